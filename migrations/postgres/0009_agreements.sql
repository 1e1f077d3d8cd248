-- The agreement (issue 15). A case has at most one agreement, drafted as a shared Yjs document
-- (`main`) and, in a caucus, private drafts (`PD_…`) the mediator may show to one side. The
-- documents are kept as their updates in order (what the browser sends, byte for byte), so a
-- document is rebuilt by replaying them and every acknowledged edit survives a crash; each
-- update keeps who made it, when, in which session and which clauses it touched, which is the
-- agreement's history. A frozen version keeps its canonical text and its SHA-256 (what is
-- signed); an edit after freezing starts the next version and the old one becomes
-- `superseded`. Each clause keeps the moment of its last edit on the session clock, so a
-- court's reviewer can jump to it in the recording.
--
-- Organisations may replace the built-in template of a category and locale with their own;
-- deleting the row brings the built-in back.
--
-- `cases.personal_status`: the case concerns marriage, adoption or inheritance status, which
-- may not be signed electronically (电子签名法 第三条).
CREATE TABLE agreement_templates (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    category        TEXT NOT NULL,
    locale          TEXT NOT NULL,
    name            TEXT NOT NULL,
    title           TEXT NOT NULL,
    clauses_json    TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    updated_by      TEXT NOT NULL,
    PRIMARY KEY (organisation_id, category, locale)
);

CREATE TABLE agreements (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL UNIQUE REFERENCES cases (id),
    locale      TEXT NOT NULL,
    template_id TEXT,
    status      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE agreement_docs (
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    doc          TEXT NOT NULL,
    shown_to     TEXT,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (agreement_id, doc)
);

CREATE TABLE agreement_updates (
    agreement_id TEXT NOT NULL,
    doc          TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    data         BYTEA NOT NULL,
    by_identity  TEXT NOT NULL,
    by_name      TEXT NOT NULL,
    at           BIGINT NOT NULL,
    session_id   TEXT REFERENCES sessions (id),
    clauses      TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (agreement_id, doc, seq),
    FOREIGN KEY (agreement_id, doc) REFERENCES agreement_docs (agreement_id, doc)
);

CREATE TABLE agreement_versions (
    agreement_id      TEXT NOT NULL REFERENCES agreements (id),
    version           BIGINT NOT NULL,
    text              TEXT NOT NULL,
    text_sha256       TEXT NOT NULL,
    finalised_at      BIGINT NOT NULL,
    finalised_by      TEXT NOT NULL,
    finalised_by_name TEXT NOT NULL,
    status            TEXT NOT NULL,
    PRIMARY KEY (agreement_id, version)
);
CREATE INDEX agreement_versions_sha256 ON agreement_versions (text_sha256);

CREATE TABLE agreement_comments (
    id              TEXT PRIMARY KEY,
    agreement_id    TEXT NOT NULL REFERENCES agreements (id),
    seq             BIGINT NOT NULL,
    clause_id       TEXT NOT NULL,
    author_identity TEXT NOT NULL,
    author_name     TEXT NOT NULL,
    author_role     TEXT NOT NULL,
    text            TEXT NOT NULL,
    at              BIGINT NOT NULL,
    resolved_at     BIGINT,
    UNIQUE (agreement_id, seq)
);

CREATE TABLE agreement_clause_moments (
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    clause_id    TEXT NOT NULL,
    last_edit_at BIGINT NOT NULL,
    session_id   TEXT REFERENCES sessions (id),
    by_name      TEXT NOT NULL,
    PRIMARY KEY (agreement_id, clause_id)
);

ALTER TABLE cases ADD COLUMN personal_status BOOLEAN NOT NULL DEFAULT FALSE;
