-- A user's TOTP secret (RFC 6238) for two-step sign-in, sealed with the key-encryption key as signing keys
-- are (AES-256-GCM, bound to the user id), the last time step accepted (a code is taken once: that step and
-- earlier ones are refused), and when it was turned on. No row: the user signs in with a password alone.
CREATE TABLE user_otp (
    user_id       TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed BYTEA NOT NULL,
    last_step     BIGINT NOT NULL,
    enabled_at    BIGINT NOT NULL
);
-- One-time recovery codes, shown once when TOTP is turned on and usable in place of a code, each once: only
-- their hashes (SHA-256 of the user id and the code; the codes are 80 random bits). Deleting a row uses it.
CREATE TABLE otp_recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);
