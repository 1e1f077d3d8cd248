-- Proofs of identity (身份证明: ID card images, a passport, a business licence) that a party
-- or the mediator uploads for the confirmation package (issue 16). They show a full ID
-- number and a face, so the bytes are sealed with the PII key before they reach the blob
-- store: `sealed_blob` names the sealed blob, `sha256` and `size` describe the clear file as
-- the court receives it. A party keeps at most a few; a proof is removed (row and blob) when
-- its uploader replaces it, and the audit trail keeps its hash.
CREATE TABLE identity_proofs (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    party_id    TEXT NOT NULL REFERENCES parties (id),
    kind        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    sealed_blob TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX identity_proofs_case ON identity_proofs (case_id, party_id);
