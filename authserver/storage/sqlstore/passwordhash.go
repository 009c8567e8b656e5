package sqlstore

import "context"

// This file holds the password-hash upgrade of a sign-in
// (storage.UserStore.ReplacePasswordHash).

// replacePasswordHash compares and swaps in one statement, so that of a
// rehash and a concurrent password change the change always wins.
const replacePasswordHash = `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`

// ReplacePasswordHash implements storage.UserStore.
func (s *Store) ReplacePasswordHash(ctx context.Context, userID, oldHash, newHash string) error {
	return s.execOne(ctx, "replace password hash", s.d.rebind(replacePasswordHash), newHash, userID, oldHash)
}
