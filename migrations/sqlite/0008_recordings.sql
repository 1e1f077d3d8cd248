-- Sessions are recorded (issue 14). A recording is a folder of files (per-track RTP logs and
-- playable files, mixed audio, the segment hash chain, the signed manifest) kept in the blob
-- store; these tables say which recording belongs to which session, where its life stands
-- (recording, paused, finalising, then complete, interrupted, failed or deleted), what each
-- file is and the hash it is stored under, when it was paused, its last chain checkpoint (so
-- a restart finds and recovers what was running), whether a hold keeps it from the retention
-- policy, and the result of its last integrity check.
--
-- Organisations choose whether caucus (背对背) rooms are recorded (default no: a private room
-- is where a side speaks freely to the mediator) and how long recordings are kept. The
-- retention default is 3650 days (ten years, the span mediation files are commonly archived
-- for); NULL keeps recordings until someone deletes them. A hold, or a confirmation request
-- on the case, keeps a recording past its date whatever the setting.
CREATE TABLE recordings (
    id                     TEXT PRIMARY KEY,
    case_id                TEXT NOT NULL REFERENCES cases (id),
    session_id             TEXT NOT NULL REFERENCES sessions (id),
    status                 TEXT NOT NULL,
    started_at             BIGINT NOT NULL,
    ended_at               BIGINT,
    started_by             TEXT NOT NULL,
    private_rooms_recorded BOOLEAN NOT NULL,
    node                   TEXT NOT NULL,
    manifest_sha256        TEXT,
    manifest_blob          TEXT,
    chain_head             TEXT,
    chain_segments         BIGINT NOT NULL DEFAULT 0,
    checkpoint_at          BIGINT,
    bytes                  BIGINT NOT NULL DEFAULT 0,
    hold                   BOOLEAN NOT NULL DEFAULT FALSE,
    hold_reason            TEXT,
    delete_after           BIGINT,
    deleted_at             BIGINT,
    integrity              TEXT NOT NULL DEFAULT 'unchecked',
    integrity_checked_at   BIGINT,
    integrity_problems     TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX recordings_case ON recordings (case_id, started_at);
CREATE INDEX recordings_status ON recordings (status);

CREATE TABLE recording_files (
    recording_id   TEXT NOT NULL REFERENCES recordings (id),
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    size           BIGINT NOT NULL,
    sha256         TEXT NOT NULL,
    track_id       TEXT,
    participant_id TEXT,
    media_kind     TEXT,
    space          TEXT,
    start_ms       BIGINT,
    end_ms         BIGINT,
    PRIMARY KEY (recording_id, name)
);

CREATE TABLE recording_pauses (
    recording_id TEXT NOT NULL REFERENCES recordings (id),
    paused_at    BIGINT NOT NULL,
    resumed_at   BIGINT
);
CREATE INDEX recording_pauses_recording ON recording_pauses (recording_id, paused_at);

ALTER TABLE organisations ADD COLUMN record_private_rooms BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organisations ADD COLUMN recording_retention_days BIGINT DEFAULT 3650;
