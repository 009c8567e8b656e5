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
	// EventMFARemoved is one second factor of a user removed (a passkey
	// or the TOTP authenticator); EventMFAReset is every one of them
	// removed at once, with the recovery codes, by an operator.
	EventMFARemoved = "mfa.removed"
	EventMFAReset   = "mfa.reset"
	// EventMFAFailed is a second sign-in step refused (a wrong, replayed
	// or spent code, or a passkey that did not verify), counted by the
	// throttle like a wrong password.
	EventMFAFailed = "mfa.failed"
	// EventRecoveryCodeUsed is a sign-in with one of a user's single-use
	// recovery codes: the user's other sessions are ended with it.
	EventRecoveryCodeUsed = "mfa.recovery_code_used"
	// EventMFAEnrolled is a second factor a user added on /account (a
	// passkey, or the TOTP authenticator once a first code confirmed it);
	// EventMFARecoveryCodesGenerated is a new set of recovery codes, which
	// makes the previous ones useless.
	EventMFAEnrolled               = "mfa.enrolled"
	EventMFARecoveryCodesGenerated = "mfa.recovery_codes_generated"
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
	EventMFARemoved, EventMFAReset, EventMFAFailed, EventRecoveryCodeUsed,
	EventMFAEnrolled, EventMFARecoveryCodesGenerated,
}
