package clientkeys

import "errors"

// Codes of Error, as the OAuth error responses name them.
const (
	// CodeInvalidClient answers a client assertion that fails (RFC 6749
	// §5.2, RFC 7521 §4.2.1): the client is not authenticated.
	CodeInvalidClient = "invalid_client"
	// CodeInvalidRequestObject answers a request object that fails
	// (RFC 9101 §6.2, OpenID Connect Core §3.1.2.6).
	CodeInvalidRequestObject = "invalid_request_object"
)

var (
	// ErrInvalidConfig is wrapped by the errors of NewVerifier and
	// NewCache.
	ErrInvalidConfig = errors.New("clientkeys: invalid config")
	// ErrReplayed is wrapped by the Error of a client assertion whose jti
	// was accepted before, within its lifetime.
	ErrReplayed = errors.New("clientkeys: assertion replayed")
	// ErrExpired is wrapped by the Error of a JWT whose exp has passed.
	ErrExpired = errors.New("clientkeys: JWT expired")
	// ErrUnknownKey is wrapped by the Error of a JWT whose kid names no
	// key of the client, even after a refresh of its jwks_uri.
	ErrUnknownKey = errors.New("clientkeys: no such key")
	// ErrBadSignature is wrapped by the Error of a JWT whose signature does
	// not verify with the client's keys.
	ErrBadSignature = errors.New("clientkeys: signature does not verify")
	// ErrKeysUnavailable is wrapped by the errors of a KeySource that
	// cannot give any key: the client's jwks_uri could not be fetched or
	// holds no usable key. A Verifier turns it into an Error (the client's
	// keys are the client's business), never a server error.
	ErrKeysUnavailable = errors.New("clientkeys: client keys unavailable")
)

// Error is the error of every JWT a Verifier refuses.
type Error struct {
	// Code is the OAuth error to answer: CodeInvalidClient or
	// CodeInvalidRequestObject.
	Code string
	// Reason says what was wrong in words safe to send to the client as
	// error_description: it never quotes the JWT, only names claims and
	// the values the server expected.
	Reason string
	// Err is the cause: one of the sentinel errors of this package, a
	// library error meant for logs, or nil.
	Err error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return "clientkeys: " + e.Code + ": " + e.Reason
	}
	return "clientkeys: " + e.Code + ": " + e.Reason + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// KeySetError lists every problem of a JWK Set, each prefixed with where
// it is (jwks.keys[2] ...), so that a configuration or registration
// error names them all at once.
type KeySetError struct {
	Problems []string
}

func (e *KeySetError) Error() string {
	msg := "clientkeys: invalid JWK Set: "
	for i, p := range e.Problems {
		if i > 0 {
			msg += "; "
		}
		msg += p
	}
	return msg
}
