package authserver

import "github.com/authserver-dev/authserver/authserver/backchannel"

// BackchannelSender is the server's back-channel logout sender, for the
// external tests to tune (instant back-off) before RunBackchannelLogout.
func BackchannelSender(s *Server) *backchannel.Sender { return s.backchannel.sender }
