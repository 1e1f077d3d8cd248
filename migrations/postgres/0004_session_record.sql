-- The session record (笔录 timeline): everything that happened in a session's room, in order,
-- kept with the case for the court. Chat messages are part of it. `seq` orders entries across
-- the whole store (time-based, unique per node), so entries written out of order still read
-- in the order they happened.
CREATE TABLE session_events (
    id               TEXT PRIMARY KEY,
    seq              BIGINT NOT NULL,
    session_id       TEXT NOT NULL REFERENCES sessions (id),
    case_id          TEXT NOT NULL REFERENCES cases (id),
    at               BIGINT NOT NULL,
    kind             TEXT NOT NULL,
    actor_identity   TEXT,
    actor_name       TEXT,
    actor_role       TEXT,
    subject_identity TEXT,
    subject_name     TEXT,
    space            TEXT,
    detail           TEXT
);
CREATE INDEX session_events_session ON session_events (session_id, seq);
CREATE INDEX session_events_subject ON session_events (session_id, kind, subject_identity);

-- A party's consent to mediate online and to be recorded (在线调解规则 第四条), once per case.
-- A row is consent to both; `version` names the text the party agreed to.
CREATE TABLE consents (
    id               TEXT PRIMARY KEY,
    case_id          TEXT NOT NULL REFERENCES cases (id),
    party_id         TEXT NOT NULL REFERENCES parties (id),
    session_id       TEXT REFERENCES sessions (id),
    version          TEXT NOT NULL,
    client_address   TEXT,
    user_agent       TEXT,
    created_at       BIGINT NOT NULL,
    UNIQUE (case_id, party_id)
);
