package admin

// SetUserIDs replaces how the service draws the ids of new users, so that
// a test can make one collide with a client id.
func SetUserIDs(s *Service, next func() string) { s.userID = next }
