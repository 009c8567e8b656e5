-- 0004_ownership: who owns each client and user. 'file' rows are declared in
-- the configuration file: every start upserts them and deletes the ones no
-- longer declared. 'database' rows were made with the CLI (or an API) and
-- the file never touches them. See storage.Owner.
--
-- Rows from before this migration get 'unknown': nothing recorded whether
-- the file or the CLI made them. The next start adopts the ones its file
-- declares as 'file' and keeps the others as 'database' (with a warning), so
-- that an upgrade neither deletes a client made with the CLI nor refuses to
-- start over a collision it cannot judge.
ALTER TABLE clients ADD COLUMN owner TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE users ADD COLUMN owner TEXT NOT NULL DEFAULT 'unknown';

-- DeleteClient revokes the client's refresh families and deletes its codes.
CREATE INDEX refresh_tokens_client_id ON refresh_tokens (client_id);
CREATE INDEX auth_codes_client_id ON auth_codes (client_id);
