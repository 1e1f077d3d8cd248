-- Judicial confirmation (issue 16). A request is made for one sealed version of an agreement
-- (one per version), when the first party applies or the mediator chooses the court; each
-- party's application is a row of its own (a representative with a power of attorney may
-- apply for the party). When every party applied, the package and the 申请书 are stored as
-- blobs and the request is submitted, together with an outbox row when the court has a
-- system to deliver to: the row and the submission commit together, so a delivery is never
-- forgotten, and a lease (owner, until) lets one node at a time attempt it.
--
-- A court system's status callbacks are remembered per (request, event), so a repeat is a
-- no-op; the window warnings are remembered per (agreement, party, level), so each is sent
-- once. The address a party gives is where the court serves documents: the court needs it in
-- clear, so it is kept as given and never logged.
CREATE TABLE confirmation_requests (
    id                 TEXT PRIMARY KEY,
    case_id            TEXT NOT NULL REFERENCES cases (id),
    agreement_id       TEXT NOT NULL REFERENCES agreements (id),
    version            BIGINT NOT NULL,
    text_sha256        TEXT NOT NULL,
    court              TEXT,
    court_proposed     TEXT,
    court_basis        TEXT,
    court_reason       TEXT,
    court_changed_by   TEXT,
    status             TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    submitted_at       BIGINT,
    received_at        BIGINT,
    accepted_at        BIGINT,
    court_case_number  TEXT,
    extended_at        BIGINT,
    extension_reason   TEXT,
    decided_at         BIGINT,
    ruling_number      TEXT,
    ruling_date        TEXT,
    ruling_sha256      TEXT,
    reject_reasons     TEXT,
    package_sha256     TEXT,
    package_size       BIGINT,
    application_sha256 TEXT,
    updated_at         BIGINT NOT NULL,
    UNIQUE (agreement_id, version)
);
CREATE INDEX confirmation_requests_court ON confirmation_requests (court, status);
CREATE INDEX confirmation_requests_case ON confirmation_requests (case_id);

CREATE TABLE confirmation_applicants (
    request_id      TEXT NOT NULL REFERENCES confirmation_requests (id),
    party_id        TEXT NOT NULL REFERENCES parties (id),
    applied_by      TEXT NOT NULL,
    applied_by_name TEXT NOT NULL,
    address         TEXT NOT NULL,
    applied_at      BIGINT NOT NULL,
    PRIMARY KEY (request_id, party_id)
);

CREATE TABLE confirmation_outbox (
    id              TEXT PRIMARY KEY,
    request_id      TEXT NOT NULL REFERENCES confirmation_requests (id),
    court           TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    package_sha256  TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    delivered_at    BIGINT,
    given_up_at     BIGINT,
    last_error      TEXT,
    last_status     BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX confirmation_outbox_due ON confirmation_outbox (next_attempt_at);
CREATE INDEX confirmation_outbox_request ON confirmation_outbox (request_id);

CREATE TABLE confirmation_callbacks (
    request_id  TEXT NOT NULL REFERENCES confirmation_requests (id),
    event       TEXT NOT NULL,
    at          BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    body_sha256 TEXT NOT NULL,
    PRIMARY KEY (request_id, event)
);

CREATE TABLE confirmation_window_warnings (
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    party_id     TEXT NOT NULL REFERENCES parties (id),
    level        TEXT NOT NULL,
    sent_at      BIGINT NOT NULL,
    PRIMARY KEY (agreement_id, party_id, level)
);
