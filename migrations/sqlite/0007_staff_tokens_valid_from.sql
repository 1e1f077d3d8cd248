-- Join tokens a staff member was given (the 10-hour token from starting a session) are
-- honoured only if issued at or after this moment (Unix milliseconds). Set when the account is
-- disabled, its password changes, or a stolen refresh token is detected, so a token copied
-- before any of these stops admitting and moderating, also after the account is enabled again.
ALTER TABLE staff ADD COLUMN tokens_valid_from BIGINT NOT NULL DEFAULT 0;
