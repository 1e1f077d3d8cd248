-- An idempotency key is bound to the SHA-256 of the request that first used it: a retry must
-- ask for the same thing, and a key reused (or guessed) with another request is refused
-- instead of being answered with the record it made. Keys stored before have none and keep
-- answering as they did.
ALTER TABLE idempotency_keys ADD COLUMN request_sha256 TEXT;
