-- Email addresses are matched in any letter case and Unicode form, the same on both backends: email_key is the
-- address in NFC and lower case (`domain::user::email_key`). SQL's lower() folds ASCII only here and follows the
-- database's locale on Postgres. Not unique: one address may serve several accounts. SQL cannot compute the key:
-- the server fills it for stored addresses right after migrating (`users::fill_email_keys`), and until then, or
-- for a row an earlier release wrote, a row without a key is matched by lower() as before.
ALTER TABLE users ADD COLUMN email_key TEXT;
CREATE INDEX users_email_key_idx ON users (email_key) WHERE email_key IS NOT NULL;
-- The addresses left to key (`users::fill_email_keys`, at every start): none once all are, however many users
-- have no address.
CREATE INDEX users_email_unkeyed_idx ON users (id) WHERE email IS NOT NULL AND email_key IS NULL;

-- A change of address clears its key, so that a release that does not know the key (an instance of an earlier
-- one during a rolling update) leaves none that is wrong; this release writes the new key after the address.
CREATE TRIGGER users_email_changed AFTER UPDATE OF email ON users
    WHEN NEW.email IS NOT OLD.email
BEGIN
    UPDATE users SET email_key = NULL WHERE id = NEW.id;
END;
