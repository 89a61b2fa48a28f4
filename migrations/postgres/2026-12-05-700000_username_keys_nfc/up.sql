-- The username fold (`domain::user::fold`) now brings names to NFC first, so that "José" typed with a composed
-- "é" and with "e" and a combining accent is one name. Keys of names that are not pure ASCII may have been made by
-- the earlier fold, in which those were two: they are cleared here, and the server keys them again with the new
-- fold right after migrating (`users::fill_username_keys`), as for accounts stored before keys existed. Names that
-- fold alike only now keep no key and are matched by their exact name only. ASCII names fold as before.
UPDATE users SET username_key = NULL
WHERE username_key IS NOT NULL AND octet_length(username) <> char_length(username);
