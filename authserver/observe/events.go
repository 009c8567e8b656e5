package observe

// Audit event names. They are a contract with operators' alerting rules:
// rename none; add new ones to Events.
const (
	EventLoginSucceeded       = "login.succeeded"
	EventLoginFailed          = "login.failed"
	EventTokenIssued          = "token.issued"
	EventRefreshReuseDetected = "refresh.reuse_detected"
	EventCodeReplayed         = "code.replayed"
	EventTokenRevoked         = "token.revoked"
	EventLogout               = "session.ended"
	EventClientCreated        = "client.created"
	EventClientUpdated        = "client.updated"
	EventClientRemoved        = "client.removed"
	EventUserCreated          = "user.created"
	EventUserPasswordChanged  = "user.password_changed"
	EventUserRemoved          = "user.removed"
	EventKeysRotated          = "keys.rotated"
	// EventConsentGranted is a user's approval of scopes for a client,
	// remembered so later requests for them skip the consent page.
	EventConsentGranted = "consent.granted"
	// EventThrottleBlocked is a sign-in or client authentication refused
	// because its username, client IP or client id is in back-off.
	EventThrottleBlocked = "throttle.blocked"
	// EventClientSecretRotated is a new secret for a client; the old one
	// stops working at once.
	EventClientSecretRotated = "client.secret_rotated"
	// EventClientRegistered is a client created at the registration
	// endpoint (RFC 7591); EventClientCreated is one made by an operator.
	EventClientRegistered = "client.registered"
	EventUserUpdated      = "user.updated"
	// EventUserDisabled ends the user's sessions and grants; a disabled
	// user cannot sign in until EventUserEnabled.
	EventUserDisabled = "user.disabled"
	EventUserEnabled  = "user.enabled"
	// EventConsentRevoked is a user's remembered consent to a client
	// withdrawn (by the user on /account or by an operator), with the
	// refresh tokens it allowed.
	EventConsentRevoked = "consent.revoked"
	// EventRegistrationTokenCreated and EventRegistrationTokenDeleted are
	// initial access tokens for the registration endpoint.
	EventRegistrationTokenCreated = "registration_token.created"
	EventRegistrationTokenDeleted = "registration_token.deleted"
	// EventAdminDenied is a call to the admin API or the registration
	// endpoint refused for its credentials (no, bad, expired token, or one
	// without the admin scope).
	EventAdminDenied = "admin.denied"
)

// Events lists every audit event name.
var Events = []string{
	EventLoginSucceeded, EventLoginFailed, EventTokenIssued, EventRefreshReuseDetected,
	EventCodeReplayed, EventTokenRevoked, EventLogout,
	EventClientCreated, EventClientUpdated, EventClientRemoved,
	EventUserCreated, EventUserPasswordChanged, EventUserRemoved, EventKeysRotated, EventConsentGranted,
	EventThrottleBlocked, EventClientSecretRotated, EventClientRegistered, EventUserUpdated,
	EventUserDisabled, EventUserEnabled, EventConsentRevoked,
	EventRegistrationTokenCreated, EventRegistrationTokenDeleted, EventAdminDenied,
}
