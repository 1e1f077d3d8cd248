-- Several nodes on one database (issue 17).
--
-- A recording is written on the node serving its session (`recordings.node`, that node's
-- `[cluster] node_id`; `local` on rows from before nodes had ids, which the node holding
-- their folder recovers). Its files stay in that node's working folder until it ends, so a
-- node that dies mid-session would take the recording with it: while it runs, each part of
-- its track logs the segment chain has covered, and the new whole lines of `events.jsonl` and
-- `chain.jsonl`, are stored as blobs every checkpoint and listed here. A live node rebuilds
-- a dead node's recording from them, finalises it as `interrupted` and signs it; the rows go
-- once the recording's own files are stored.
CREATE TABLE recording_segments (
    recording_id TEXT NOT NULL REFERENCES recordings (id),
    file         TEXT NOT NULL,
    start_byte   BIGINT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    stored_at    BIGINT NOT NULL,
    PRIMARY KEY (recording_id, file, start_byte)
);
CREATE INDEX recording_segments_blob ON recording_segments (sha256);

-- A node taking over seeds its session-record numbers from the newest entry
-- (`Store::seed_record_seq`): an index, not a scan of every session's record.
CREATE INDEX session_events_seq ON session_events (seq);
