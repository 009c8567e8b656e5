-- 0007_sender_constrained: FAPI 2.0 baseline — client authentication by
-- private_key_jwt (RFC 7523), pushed authorization requests (RFC 9126),
-- DPoP-bound tokens (RFC 9449), resource indicators (RFC 8707).
-- Databases in the field ran 0001..0006: new columns have defaults.

-- Client metadata (the names of RFC 7591 / RFC 9126 / RFC 9449). An empty
-- token_endpoint_auth_method is a client from before 0007: a secret
-- method (basic or post) when it has a secret, none when it has not.
-- jwks is an RFC 7517 JWK Set (public keys only) as JSON, '' for none.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN profile TEXT NOT NULL DEFAULT '';

-- RFC 9126: a pushed authorization request, keyed by the SHA-256 of its
-- request_uri, bound to its client. params is the validated request as a
-- JSON object of string arrays. used_at is set when a code was issued
-- from it; until then (a reload of the login page) it may be read again.
CREATE TABLE pushed_requests (
    uri_hash   TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    params     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);
-- DeleteClient's cascade finds a client's requests by it.
CREATE INDEX pushed_requests_client_id ON pushed_requests (client_id);

-- One-time identifiers shared by every replica: the jti of DPoP proofs and
-- of client assertions, kept until they could no longer be accepted.
CREATE TABLE seen_jtis (
    id         TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX seen_jtis_expires_at ON seen_jtis (expires_at);

-- RFC 9449 §10: the DPoP key the code is bound to (dpop_jkt at
-- authorization); §5: the key a public client's refresh tokens are bound
-- to. RFC 8707: the resource(s) the grant's access tokens are for,
-- space-separated, '' for the client's default audience.
ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN resource TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN resource TEXT NOT NULL DEFAULT '';
