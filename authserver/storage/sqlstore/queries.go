package sqlstore

// The column lists fix the order in which the scan functions read a row.
const (
	clientCols = `id, secret_hash, name, redirect_uris, post_logout_redirect_uris,
		grant_types, scopes, audience, skip_consent, can_introspect, id_token_alg, created_at, updated_at, owner,
		backchannel_logout_uri, backchannel_logout_session_required, registration_token_hash,
		token_endpoint_auth_method, jwks, jwks_uri, require_pushed_authorization_requests, dpop_bound_access_tokens, profile,
		require_mfa, default_acr_values`
	userCols     = `id, username, password_hash, email, email_verified, name, created_at, updated_at, owner, claims, disabled, require_mfa`
	authCodeCols = `code_hash, client_id, user_id, redirect_uri, scope, code_challenge,
		code_challenge_method, nonce, session_id, auth_time, created_at, expires_at, used_at, family_id, claims_request,
		dpop_jkt, resource, amr`
	sessionCols      = `id_hash, user_id, auth_time, created_at, expires_at, user_agent, ip, amr`
	refreshTokenCols = `token_hash, family_id, client_id, user_id, scope, session_id, nonce,
		auth_time, created_at, expires_at, spent_at, family_expires_at, claims_request, dpop_jkt, resource, amr`
	signingKeyCols = `id, algorithm, state, private_key, created_at, activates_at, retired_at, expires_at`
)

// notRevoked is true for a refresh_tokens row whose family is not revoked.
// Reads check it rather than trusting that RevokeFamily deleted every token:
// a token may be stored into a family after the family was revoked (a code
// replay races the winning redemption).
const notRevoked = `NOT EXISTS (SELECT 1 FROM revoked_families
		WHERE revoked_families.family_id = refresh_tokens.family_id)`

// queries holds every statement in the store's dialect, rebound once when
// the store is built.
type queries struct {
	migrationApplied, recordMigration, schemaVersion string

	upsertClient, getClient, listClients, deleteClient                    string
	createClient, createUser                                              string
	revokeClientFamilies, deleteClientFamilyTokens, deleteClientAuthCodes string

	upsertUser, getUser, getUserByUsername, listUsers, deleteUser                       string
	deleteUserSessions, revokeUserFamilies, deleteUserFamilyTokens, deleteUserAuthCodes string
	setUserPassword, setUserDisabled                                                    string

	createAuthCode, consumeAuthCode, getAuthCode string

	createSession, getSession, deleteSession, listUserSessions string

	createRefreshToken, getRefreshToken, spendRefreshToken, getRefreshTokenState string
	revokeFamily, deleteFamilyTokens, familyRevoked, listSessionRefreshTokens    string

	revokeAccessToken, accessTokenRevoked string

	purgeAuthCodes, purgeSessions, purgeRefreshTokens, purgeAccessTokenRevocations, purgeFamilyRevocations string

	insertSigningKey, listSigningKeys, updateSigningKey, deleteSigningKey string

	throttle       throttleQueries
	sessionClients sessionClientQueries
	consent        consentQueries
	regTokens      registrationTokenQueries
	pushed         pushedRequestQueries
	replay         replayQueries
	mfa            mfaQueries
}

func newQueries(d dialect) queries {
	r := d.rebind
	return queries{
		migrationApplied: r(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`),
		recordMigration:  r(`INSERT INTO schema_migrations (version) VALUES (?)`),
		schemaVersion:    r(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`),

		upsertClient: r(`INSERT INTO clients (` + clientCols + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET
				secret_hash = excluded.secret_hash,
				name = excluded.name,
				redirect_uris = excluded.redirect_uris,
				post_logout_redirect_uris = excluded.post_logout_redirect_uris,
				grant_types = excluded.grant_types,
				scopes = excluded.scopes,
				audience = excluded.audience,
				skip_consent = excluded.skip_consent,
				can_introspect = excluded.can_introspect,
				id_token_alg = excluded.id_token_alg,
				backchannel_logout_uri = excluded.backchannel_logout_uri,
				backchannel_logout_session_required = excluded.backchannel_logout_session_required,
				registration_token_hash = excluded.registration_token_hash,
				token_endpoint_auth_method = excluded.token_endpoint_auth_method,
				jwks = excluded.jwks,
				jwks_uri = excluded.jwks_uri,
				require_pushed_authorization_requests = excluded.require_pushed_authorization_requests,
				dpop_bound_access_tokens = excluded.dpop_bound_access_tokens,
				profile = excluded.profile,
				require_mfa = excluded.require_mfa,
				default_acr_values = excluded.default_acr_values,
				updated_at = excluded.updated_at,
				owner = excluded.owner
			WHERE clients.owner = excluded.owner OR clients.owner = 'unknown'`),
		createClient: r(`INSERT INTO clients (` + clientCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		getClient:    r(`SELECT ` + clientCols + ` FROM clients WHERE id = ?`),
		listClients:  r(`SELECT ` + clientCols + ` FROM clients ORDER BY id`),
		deleteClient: r(`DELETE FROM clients WHERE id = ?`),
		// DeleteClient's cascade, the client's side of DeleteUser's (see
		// revokeUserFamilies for why the codes' families count).
		revokeClientFamilies: r(`INSERT INTO revoked_families (family_id, revoked_at)
			SELECT family_id, CAST(? AS BIGINT) FROM (
				SELECT family_id FROM refresh_tokens WHERE client_id = ?
				UNION
				SELECT family_id FROM auth_codes WHERE client_id = ? AND family_id <> ''
			) AS f WHERE true
			ON CONFLICT (family_id) DO NOTHING`),
		deleteClientFamilyTokens: r(`DELETE FROM refresh_tokens WHERE family_id IN
			(SELECT family_id FROM refresh_tokens WHERE client_id = ?)`),
		deleteClientAuthCodes: r(`DELETE FROM auth_codes WHERE client_id = ?`),

		// Keyed by username: an existing user keeps its id and created_at. A
		// new user whose id belongs to another username fails on the primary
		// key, which ON CONFLICT (username) does not cover. A user of another
		// owner is left alone and RETURNING gives no row.
		upsertUser: r(`INSERT INTO users (` + userCols + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (username) DO UPDATE SET
				password_hash = excluded.password_hash,
				email = excluded.email,
				email_verified = excluded.email_verified,
				name = excluded.name,
				claims = excluded.claims,
				disabled = excluded.disabled,
				require_mfa = excluded.require_mfa,
				updated_at = excluded.updated_at,
				owner = excluded.owner
			WHERE users.owner = excluded.owner OR users.owner = 'unknown'
			RETURNING ` + userCols),
		setUserPassword:   r(`UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`),
		setUserDisabled:   r(`UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?`),
		createUser:        r(`INSERT INTO users (` + userCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ` + userCols),
		getUser:           r(`SELECT ` + userCols + ` FROM users WHERE id = ?`),
		getUserByUsername: r(`SELECT ` + userCols + ` FROM users WHERE username = ?`),
		listUsers:         r(`SELECT ` + userCols + ` FROM users ORDER BY username`),
		deleteUser:        r(`DELETE FROM users WHERE id = ?`),
		// DeleteUser's cascade, run after deleteUser in its transaction.
		// revokeUserFamilies takes the families of the user's refresh tokens
		// and also those recorded on the user's redeemed codes: a redemption
		// that committed but has not stored its first refresh token yet has
		// a family with no token, which only the code names. (The WHERE
		// clause of the SELECT is also what lets SQLite parse the ON CONFLICT
		// of an INSERT ... SELECT.)
		deleteUserSessions: r(`DELETE FROM sessions WHERE user_id = ?`),
		revokeUserFamilies: r(`INSERT INTO revoked_families (family_id, revoked_at)
			SELECT family_id, CAST(? AS BIGINT) FROM (
				SELECT family_id FROM refresh_tokens WHERE user_id = ?
				UNION
				SELECT family_id FROM auth_codes WHERE user_id = ? AND family_id <> ''
			) AS f WHERE true
			ON CONFLICT (family_id) DO NOTHING`),
		// Deleted by family, as RevokeFamily does, not by user_id.
		deleteUserFamilyTokens: r(`DELETE FROM refresh_tokens WHERE family_id IN
			(SELECT family_id FROM refresh_tokens WHERE user_id = ?)`),
		deleteUserAuthCodes: r(`DELETE FROM auth_codes WHERE user_id = ?`),

		createAuthCode: r(`INSERT INTO auth_codes (` + authCodeCols + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		// One statement decides the winner: the row lock (PostgreSQL) or the
		// single writer (SQLite) makes every later UPDATE see used_at set.
		// The client, redirect URI and PKCE challenge are conditions of the
		// same statement, so a request of anyone else leaves the row as it was.
		consumeAuthCode: r(`UPDATE auth_codes SET used_at = ?, family_id = ?
			WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?
				AND client_id = ? AND redirect_uri = ? AND code_challenge = ?
				AND (dpop_jkt = '' OR dpop_jkt = ?)
			RETURNING ` + authCodeCols),
		getAuthCode: r(`SELECT ` + authCodeCols + ` FROM auth_codes WHERE code_hash = ?`),

		createSession: r(`INSERT INTO sessions (` + sessionCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		getSession:    r(`SELECT ` + sessionCols + ` FROM sessions WHERE id_hash = ? AND expires_at > ?`),
		deleteSession: r(`DELETE FROM sessions WHERE id_hash = ?`),
		// id_hash breaks ties so that sessions made in one microsecond
		// still list in a stable order.
		listUserSessions: r(`SELECT ` + sessionCols + ` FROM sessions WHERE user_id = ? AND expires_at > ?
			ORDER BY created_at DESC, id_hash`),

		createRefreshToken: r(`INSERT INTO refresh_tokens (` + refreshTokenCols + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		getRefreshToken: r(`SELECT ` + refreshTokenCols + ` FROM refresh_tokens
			WHERE token_hash = ? AND ` + notRevoked),
		spendRefreshToken: r(`UPDATE refresh_tokens SET spent_at = ?
			WHERE token_hash = ? AND spent_at IS NULL
				AND expires_at > ? AND family_expires_at > ? AND ` + notRevoked + `
			RETURNING ` + refreshTokenCols),
		// Tells why spendRefreshToken matched no row.
		getRefreshTokenState: r(`SELECT ` + refreshTokenCols + `, ` + notRevoked + `
			FROM refresh_tokens WHERE token_hash = ?`),
		revokeFamily: r(`INSERT INTO revoked_families (family_id, revoked_at) VALUES (?, ?)
			ON CONFLICT (family_id) DO NOTHING`),
		deleteFamilyTokens: r(`DELETE FROM refresh_tokens WHERE family_id = ?`),
		familyRevoked:      r(`SELECT COUNT(*) FROM revoked_families WHERE family_id = ?`),
		listSessionRefreshTokens: r(`SELECT ` + refreshTokenCols + ` FROM refresh_tokens
			WHERE session_id = ? AND spent_at IS NULL AND ` + notRevoked + `
			ORDER BY created_at, token_hash`),

		// A second revocation keeps the later expiry, so that no record ever
		// shortens the time a token stays refused.
		revokeAccessToken: r(`INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?, ?)
			ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at
			WHERE revoked_access_tokens.expires_at IS NOT NULL
				AND (excluded.expires_at IS NULL OR excluded.expires_at > revoked_access_tokens.expires_at)`),
		accessTokenRevoked: r(`SELECT COUNT(*) FROM revoked_access_tokens WHERE jti = ?`),

		// PurgeExpired: each deletes at most LIMIT rows by primary key, the
		// form both databases accept (neither has DELETE ... LIMIT in
		// common). A NULL expiry is the zero time, which no read ever treats
		// as later than now, so such a code, session or token is already
		// unusable and goes too.
		purgeAuthCodes: r(`DELETE FROM auth_codes WHERE code_hash IN (SELECT code_hash FROM auth_codes
			WHERE expires_at IS NULL OR expires_at <= ? LIMIT ?)`),
		purgeSessions: r(`DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions
			WHERE expires_at IS NULL OR expires_at <= ? LIMIT ?)`),
		purgeRefreshTokens: r(`DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens
			WHERE expires_at IS NULL OR expires_at <= ?
				OR family_expires_at IS NULL OR family_expires_at <= ?
				OR spent_at < ? LIMIT ?)`),
		// Unlike the rows above, a revocation with a NULL expiry is kept:
		// deleting it would make the token usable again.
		purgeAccessTokenRevocations: r(`DELETE FROM revoked_access_tokens WHERE jti IN (SELECT jti FROM revoked_access_tokens
			WHERE expires_at <= ? LIMIT ?)`),
		// A revocation is kept while its family still has a token: a token
		// stored after the revocation (see notRevoked) would otherwise come
		// back to life. Such a token is purged when it expires, and the
		// revocation with it on a later call.
		purgeFamilyRevocations: r(`DELETE FROM revoked_families WHERE family_id IN (SELECT family_id FROM revoked_families
			WHERE revoked_at < ? AND NOT EXISTS (SELECT 1 FROM refresh_tokens
				WHERE refresh_tokens.family_id = revoked_families.family_id) LIMIT ?)`),

		insertSigningKey: r(`INSERT INTO signing_keys (` + signingKeyCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		listSigningKeys:  r(`SELECT ` + signingKeyCols + ` FROM signing_keys ORDER BY created_at, id`),
		updateSigningKey: r(`UPDATE signing_keys SET state = ?, activates_at = ?, retired_at = ?, expires_at = ?
			WHERE id = ?`),
		deleteSigningKey: r(`DELETE FROM signing_keys WHERE id = ?`),

		throttle:       newThrottleQueries(r),
		sessionClients: newSessionClientQueries(r),
		consent:        newConsentQueries(r),
		regTokens:      newRegistrationTokenQueries(r),
		pushed:         newPushedRequestQueries(r),
		replay:         newReplayQueries(r),
		mfa:            newMFAQueries(r),
	}
}
