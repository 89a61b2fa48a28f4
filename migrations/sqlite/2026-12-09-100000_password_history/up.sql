-- The argon2id hashes (PHC strings, as `users.password_hash` holds them; never a password) of the last passwords
-- each user had, the current one included, for `passwords.history`: a password the user chooses may not be one
-- of them. `seq` counts a user's passwords from 1; each write keeps only the newest `passwords.history` rows.
CREATE TABLE password_history (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq           BIGINT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
);
