-- 0002_lifecycle: introspection permission, the refresh-token reuse grace
-- window, access-token revocation and the indexes that user deletion,
-- sign-out and PurgeExpired look rows up by.
--
-- Databases in the field already ran 0001, so everything here must apply to
-- a populated schema: new columns are nullable or have a default.

-- Existing clients may not introspect until an operator says so.
ALTER TABLE clients ADD COLUMN can_introspect BOOLEAN NOT NULL DEFAULT FALSE;

-- Set when RetrySpentRefreshToken used the one retry a spent token gets;
-- NULL means never retried.
ALTER TABLE refresh_tokens ADD COLUMN retried_at BIGINT;

-- A revoked access token is refused until it would have expired anyway;
-- expires_at NULL (no known expiry) keeps the record forever, since purging
-- it would make the token usable again.
CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT
);

-- DeleteUser finds a user's records by user_id.
CREATE INDEX auth_codes_user_id ON auth_codes (user_id);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);

-- Sign-out lists a session's refresh tokens.
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

-- PurgeExpired selects by these; each OR branch of its refresh-token
-- condition needs its own index for either database to avoid a full scan.
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_family_expires_at ON refresh_tokens (family_expires_at);
CREATE INDEX refresh_tokens_spent_at ON refresh_tokens (spent_at);
CREATE INDEX revoked_families_revoked_at ON revoked_families (revoked_at);
CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);
