-- 0003_throttle: failure counters of package throttle (sign-in per username
-- and per client IP, client authentication per client id), shared by every
-- replica. throttle_key is a SHA-256 hex of the kind and the counted value, never the
-- value itself. Rows past expires_at count as absent and housekeeping
-- deletes them.
CREATE TABLE throttle (
    throttle_key    TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);

CREATE INDEX throttle_expires_at ON throttle (expires_at);
