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
)

// Events lists every audit event name.
var Events = []string{
	EventLoginSucceeded, EventLoginFailed, EventTokenIssued, EventRefreshReuseDetected,
	EventCodeReplayed, EventTokenRevoked, EventLogout,
	EventClientCreated, EventClientUpdated, EventClientRemoved,
	EventUserCreated, EventUserPasswordChanged, EventUserRemoved, EventKeysRotated, EventConsentGranted,
	EventThrottleBlocked,
}
