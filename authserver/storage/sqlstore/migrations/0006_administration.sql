-- 0006_administration: what administration needs — disabled users, what a
-- login session shows its user on /account, dynamic client registration
-- (RFC 7591 initial access tokens, RFC 7592 registration access tokens).
-- Databases in the field ran 0001..0005: new columns have defaults.

-- A disabled user cannot sign in; disabling ends their sessions and
-- revokes their grants in the same transaction (SetUserDisabled).
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;

-- What the user sees of each of their sessions on /account and what an
-- administrator sees with `session list`: the browser's User-Agent
-- (bounded) and the client IP at sign-in.
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';

-- RFC 7592: the SHA-256 of a dynamically registered client's registration
-- access token ('' for a client not registered through the endpoint).
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT NOT NULL DEFAULT '';

-- RFC 7591 §3: initial access tokens, stored as SHA-256 only. A token
-- registers at most uses_left more clients before expires_at.
CREATE TABLE registration_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    uses_left   INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX registration_tokens_expires_at ON registration_tokens (expires_at);
