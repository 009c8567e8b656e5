-- 0001_init: the first schema.
--
-- One file serves SQLite and PostgreSQL, so it uses only types both accept:
-- TEXT, BIGINT, BOOLEAN and BYTEA (SQLite gives BYTEA numeric affinity,
-- which stores a blob unchanged). Every time is BIGINT unix microseconds in
-- UTC; NULL stands for the zero time.time. String lists are JSON arrays in TEXT.
-- Secrets arrive hashed (storage.Hash), so the *_hash keys are hex SHA-256.

CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    secret_hash               TEXT NOT NULL DEFAULT '',
    name                      TEXT NOT NULL DEFAULT '',
    redirect_uris             TEXT NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
    grant_types               TEXT NOT NULL DEFAULT '[]',
    scopes                    TEXT NOT NULL DEFAULT '[]',
    audience                  TEXT NOT NULL DEFAULT '[]',
    skip_consent              BOOLEAN NOT NULL DEFAULT FALSE,
    id_token_alg              TEXT NOT NULL DEFAULT '',
    created_at                BIGINT,
    updated_at                BIGINT
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL DEFAULT '',
    email          TEXT NOT NULL DEFAULT '',
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    name           TEXT NOT NULL DEFAULT '',
    created_at     BIGINT,
    updated_at     BIGINT
);

CREATE TABLE auth_codes (
    code_hash             TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL DEFAULT '',
    user_id               TEXT NOT NULL DEFAULT '',
    redirect_uri          TEXT NOT NULL DEFAULT '',
    scope                 TEXT NOT NULL DEFAULT '',
    code_challenge        TEXT NOT NULL DEFAULT '',
    code_challenge_method TEXT NOT NULL DEFAULT '',
    nonce                 TEXT NOT NULL DEFAULT '',
    session_id            TEXT NOT NULL DEFAULT '',
    auth_time             BIGINT,
    created_at            BIGINT,
    expires_at            BIGINT,
    used_at               BIGINT,
    family_id             TEXT NOT NULL DEFAULT ''
);

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL DEFAULT '',
    auth_time  BIGINT,
    created_at BIGINT,
    expires_at BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash        TEXT PRIMARY KEY,
    family_id         TEXT NOT NULL,
    client_id         TEXT NOT NULL DEFAULT '',
    user_id           TEXT NOT NULL DEFAULT '',
    scope             TEXT NOT NULL DEFAULT '',
    session_id        TEXT NOT NULL DEFAULT '',
    nonce             TEXT NOT NULL DEFAULT '',
    auth_time         BIGINT,
    created_at        BIGINT,
    expires_at        BIGINT,
    spent_at          BIGINT,
    family_expires_at BIGINT
);

-- RevokeFamily deletes a family's tokens by family_id.
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);

-- A revoked family stays here even when it has no tokens yet: a code replay
-- may revoke a family before the winning redemption has stored its first
-- refresh token, and every read of refresh_tokens checks this table.
CREATE TABLE revoked_families (
    family_id  TEXT PRIMARY KEY,
    revoked_at BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    id           TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    state        TEXT NOT NULL,
    private_key  BYTEA NOT NULL,
    created_at   BIGINT,
    activates_at BIGINT,
    retired_at   BIGINT,
    expires_at   BIGINT
);
