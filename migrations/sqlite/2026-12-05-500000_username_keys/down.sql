DROP INDEX users_username_key_idx;
ALTER TABLE users DROP COLUMN username_key;
