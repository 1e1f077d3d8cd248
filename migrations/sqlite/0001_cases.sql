-- Organisations, staff, cases with their parties, sessions and evidence, idempotency keys
-- and the hash-chained audit trail. Times are Unix milliseconds (BIGINT) so that one set of
-- queries reads the same values from SQLite and PostgreSQL.

CREATE TABLE organisations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    short_name  TEXT NOT NULL,
    region      TEXT NOT NULL,
    channel     TEXT NOT NULL,
    court       TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX organisations_region ON organisations (region);

CREATE TABLE staff (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT REFERENCES organisations (id),
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,
    court           TEXT,
    password_hash   TEXT NOT NULL,
    disabled_at     BIGINT,
    created_at      BIGINT NOT NULL
);

CREATE TABLE case_counters (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    year            BIGINT NOT NULL,
    last            BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, year)
);

CREATE TABLE cases (
    id              TEXT PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    mediator_id     TEXT REFERENCES staff (id),
    category        TEXT NOT NULL,
    channel         TEXT NOT NULL,
    region          TEXT NOT NULL,
    risk            TEXT NOT NULL,
    status          TEXT NOT NULL,
    title           TEXT NOT NULL,
    facts           TEXT NOT NULL,
    claims          TEXT NOT NULL,
    tracking_code   TEXT UNIQUE,
    court           TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX cases_organisation ON cases (organisation_id, created_at);
CREATE INDEX cases_court ON cases (court, created_at);

CREATE TABLE parties (
    id                TEXT PRIMARY KEY,
    case_id           TEXT NOT NULL REFERENCES cases (id),
    side              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    name              TEXT NOT NULL,
    phone             TEXT,
    id_number_sealed  BLOB,
    id_number_masked  TEXT,
    represents        TEXT REFERENCES parties (id),
    attorney_letter   TEXT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX parties_case ON parties (case_id);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases (id),
    room         TEXT NOT NULL UNIQUE,
    scheduled_at BIGINT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX sessions_case ON sessions (case_id);

CREATE TABLE evidence (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    party_id    TEXT REFERENCES parties (id),
    sha256      TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size        BIGINT NOT NULL,
    file_name   TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX evidence_case ON evidence (case_id);

CREATE TABLE idempotency_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);

-- The newest entry, MACed with a key kept outside the database: deleting entries from the
-- end of the chain then shows as a head that points past the last row.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL,
    mac  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash, mac)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', '');
