-- Invites: one per person and session. The join token in an invite link is signed with the
-- server's secret and names the invite (`inv`), so revoking the row stops the link at once
-- while the token itself stays unchanged and can be shown again.

CREATE TABLE invites (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    case_id     TEXT NOT NULL REFERENCES cases (id),
    party_id    TEXT NOT NULL REFERENCES parties (id),
    -- Seconds since the epoch, as in the token's `iat` and `exp`.
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX invites_session ON invites (session_id, created_at);
