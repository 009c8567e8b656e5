-- 0008_strong_signin: passkeys (WebAuthn), one-time codes (TOTP, RFC 6238),
-- recovery codes, and what a sign-in proved (amr, RFC 8176) carried from
-- the session to its codes and refresh tokens. Databases in the field ran
-- 0001..0007: new columns have defaults.

-- A passkey of a user. id is the WebAuthn credential id (base64url), unique
-- across users: a discoverable sign-in finds the user by it. credential is
-- the library's record (public key, sign count, flags, transports, AAGUID)
-- as JSON; it holds no secret.
CREATE TABLE webauthn_credentials (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    credential   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX webauthn_credentials_user_id ON webauthn_credentials (user_id);

-- A user's TOTP authenticator: the secret sealed (AES-256-GCM) under a key
-- derived from the key-encryption key, counted only once confirmed_at is
-- set (a first code was right). last_step is the highest time step
-- accepted: a code of that step or an earlier one is a replay.
CREATE TABLE totp_secrets (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT NOT NULL DEFAULT 0
);

-- Single-use recovery codes, stored as hashes; used_at is set when one is
-- spent.
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Who must use a second factor: a user, or every user of a client; and a
-- client's default acr_values (a JSON array, like the other list columns).
ALTER TABLE users ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN default_acr_values TEXT NOT NULL DEFAULT '[]';

-- The methods a sign-in used (amr: a JSON array of RFC 8176 values: pwd,
-- otp, hwk, swk, user, mfa), from the session to the codes and refresh
-- tokens it gave, so every ID token of a grant tells the truth. '[]' is a
-- session from before 0008: a password sign-in.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
ALTER TABLE auth_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
