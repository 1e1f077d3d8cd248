-- Phones are sealed like ID numbers (AES-256-GCM under the PII key) and kept masked beside
-- the seal. The clear column stays for the upgrade only: the store seals what it holds and
-- empties it when it opens, since the key is not at hand in SQL.
ALTER TABLE parties ADD COLUMN phone_sealed BYTEA;
ALTER TABLE parties ADD COLUMN phone_masked TEXT;

-- Masked ID numbers show the first 3 and last 4 characters (they showed the first 6).
UPDATE parties
SET id_number_masked = substr(id_number_masked, 1, 3)
    || substr('********************', 1, length(id_number_masked) - 7)
    || substr(id_number_masked, length(id_number_masked) - 3)
WHERE id_number_masked IS NOT NULL AND length(id_number_masked) BETWEEN 12 AND 27;
