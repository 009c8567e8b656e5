package authserver

import "github.com/authserver-dev/authserver/authserver/mfa"

// MFA is the server's second-factor service, for the external tests to
// enrol factors through the store as the account page does (sealed TOTP
// secrets, recovery-code hashes under the server's MFAKey).
func MFA(s *Server) *mfa.Service { return s.mfa }
