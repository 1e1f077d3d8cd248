-- Signing the agreement (issue 15). Each signer signs on their own phone with a P-256 key
-- that never leaves it; the server keeps the public half (SPKI DER, base64) registered for the
-- signer and the version once their identity was checked: by a one-time code to the phone on
-- record (kept as a keyed hash, ≤ 5 wrong tries), by the mediator attesting them on camera,
-- or, for the mediator, by their staff login. Each party is asked alone whether they sign of
-- their own free will; the answer keeps the session, and the recording with the offset into
-- it when one runs. A challenge (payload with a nonce) is answered once, within 10 minutes.
--
-- Every row carries the version it is about: an edit after finalising starts a new version,
-- and rows of an older version simply stop counting (nothing is deleted: they are the record
-- of what happened).
--
-- The seal: each organisation has an Ed25519 seal key (the secret sealed with the PII key, as
-- phones are); rotating it retires the old one, which stays listed so older seals still
-- verify. A sealed agreement keeps the statement signed, the organisation's signature, the
-- platform's countersignature and the PDF's hash.
CREATE TABLE signer_keys (
    agreement_id  TEXT NOT NULL REFERENCES agreements (id),
    version       BIGINT NOT NULL,
    signer_id     TEXT NOT NULL,
    public_key    TEXT NOT NULL,
    method        TEXT NOT NULL,
    checked_at    BIGINT NOT NULL,
    evidence_json TEXT NOT NULL,
    PRIMARY KEY (agreement_id, version, signer_id)
);

CREATE TABLE signing_otps (
    id             TEXT PRIMARY KEY,
    agreement_id   TEXT NOT NULL REFERENCES agreements (id),
    version        BIGINT NOT NULL,
    signer_id      TEXT NOT NULL,
    code_hash      TEXT NOT NULL,
    sent_to_masked TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    used_at        BIGINT
);
CREATE INDEX signing_otps_signer ON signing_otps (agreement_id, signer_id, created_at);

CREATE TABLE signing_attestations (
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    version      BIGINT NOT NULL,
    signer_id    TEXT NOT NULL,
    by_staff     TEXT NOT NULL REFERENCES staff (id),
    at           BIGINT NOT NULL,
    session_id   TEXT NOT NULL REFERENCES sessions (id),
    PRIMARY KEY (agreement_id, version, signer_id)
);

CREATE TABLE signing_challenges (
    nonce        TEXT PRIMARY KEY,
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    version      BIGINT NOT NULL,
    signer_id    TEXT NOT NULL,
    payload      TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX signing_challenges_agreement ON signing_challenges (agreement_id, signer_id);

CREATE TABLE agreement_free_will (
    agreement_id        TEXT NOT NULL REFERENCES agreements (id),
    version             BIGINT NOT NULL,
    party_id            TEXT NOT NULL REFERENCES parties (id),
    answer              TEXT NOT NULL,
    note                TEXT,
    at                  BIGINT NOT NULL,
    session_id          TEXT NOT NULL REFERENCES sessions (id),
    recording_id        TEXT,
    recording_offset_ms BIGINT,
    by_staff            TEXT NOT NULL REFERENCES staff (id),
    PRIMARY KEY (agreement_id, version, party_id)
);

CREATE TABLE agreement_signatures (
    id              TEXT PRIMARY KEY,
    agreement_id    TEXT NOT NULL REFERENCES agreements (id),
    version         BIGINT NOT NULL,
    signer_id       TEXT NOT NULL,
    signer_kind     TEXT NOT NULL,
    on_behalf_of    TEXT,
    public_key      TEXT,
    payload         TEXT,
    signature       TEXT,
    image_sha256    TEXT,
    status          TEXT NOT NULL,
    declined_reason TEXT,
    at              BIGINT NOT NULL,
    UNIQUE (agreement_id, version, signer_id)
);

CREATE TABLE organisation_seal_keys (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    secret_sealed   BYTEA NOT NULL,
    public_key      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    retired_at      BIGINT
);
CREATE INDEX organisation_seal_keys_organisation ON organisation_seal_keys (organisation_id, created_at);

CREATE TABLE agreement_seals (
    agreement_id       TEXT NOT NULL REFERENCES agreements (id),
    version            BIGINT NOT NULL,
    key_id             TEXT NOT NULL REFERENCES organisation_seal_keys (id),
    seal_signature     TEXT NOT NULL,
    platform_key_id    TEXT NOT NULL,
    platform_signature TEXT NOT NULL,
    statement          TEXT NOT NULL,
    sealed_at          BIGINT NOT NULL,
    pdf_sha256         TEXT,
    PRIMARY KEY (agreement_id, version)
);
