-- Phones are sealed like ID numbers (AES-256-GCM under the PII key) and kept masked beside
-- the seal. The clear column stays for the upgrade only: the store seals what it holds and
-- empties it when it opens, since the key is not at hand in SQL.
ALTER TABLE parties ADD COLUMN phone_sealed BLOB;
ALTER TABLE parties ADD COLUMN phone_masked TEXT;

