-- 0005_certification: what OpenID Connect certification depth needs —
-- remembered consent, the standard claims of users, back-channel logout.
-- Databases in the field ran 0001..0004: new columns have defaults.

-- A user's approval of a client: the scopes granted so far. A request for a
-- subset needs no consent page; revoking the grant needs consent again and
-- revokes the refresh families of that user and client. The foreign keys
-- delete a grant with its user or client (DeleteUser, DeleteClient), so that
-- a client id registered again later never inherits the old one's consent.
CREATE TABLE consent_grants (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consent_grants_client_id ON consent_grants (client_id);

-- The OIDC Core §5.1 claims beyond name and email (given_name, family_name,
-- middle_name, nickname, picture, website, gender, birthdate, zoneinfo,
-- locale, phone_number, phone_number_verified, address, ...), as a JSON
-- object: the set is fixed by the specification, never queried by field.
ALTER TABLE users ADD COLUMN claims TEXT NOT NULL DEFAULT '{}';

-- The claims request parameter (OIDC Core §5.5) of the authorization
-- request, normalised JSON or '' for none, carried from the code to the
-- refresh tokens of its grant so that every ID token and userinfo answer of
-- the grant honours it.
ALTER TABLE auth_codes ADD COLUMN claims_request TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN claims_request TEXT NOT NULL DEFAULT '';

-- Back-channel logout (OpenID Connect Back-Channel Logout 1.0 §2.2).
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT FALSE;

-- The clients that received tokens in a login session, keyed by the sid of
-- the session's ID tokens, so that ending the session can notify each.
CREATE TABLE session_clients (
    sid        TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (sid, client_id)
);
CREATE INDEX session_clients_user_id ON session_clients (user_id);
