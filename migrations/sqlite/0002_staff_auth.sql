-- Staff sign-in: keys that sign access tokens (by key id, so they can rotate), refresh
-- tokens stored only as hashes, and the one-row marker that first-run setup happened.

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    -- The HMAC secret, sealed with the store's data key so a database dump cannot mint tokens.
    secret     BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    staff_id   TEXT NOT NULL REFERENCES staff (id),
    token_hash TEXT NOT NULL UNIQUE,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE INDEX refresh_tokens_staff ON refresh_tokens (staff_id);

-- At most one row (the primary key is fixed): two setups racing cannot both insert it.
CREATE TABLE first_run_setup (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    staff_id TEXT NOT NULL REFERENCES staff (id),
    at       BIGINT NOT NULL
);
