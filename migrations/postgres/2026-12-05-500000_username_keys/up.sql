-- Usernames are matched in any letter case: username_key is the username's letter-case fold
-- (`domain::user::fold`), and its unique index refuses a second account that folds alike. SQL cannot compute the
-- fold as the server does, so the server fills it for stored accounts right after migrating
-- (`users::fill_username_keys`); accounts whose usernames differ only in case keep NULL there and are matched by
-- their exact name only.
ALTER TABLE users ADD COLUMN username_key TEXT;
CREATE UNIQUE INDEX users_username_key_idx ON users (username_key);
