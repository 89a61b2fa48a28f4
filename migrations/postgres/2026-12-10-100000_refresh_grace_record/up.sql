-- What the rotation of a token issued (its successor and what the signed tokens were made from), so that a retry
-- within the refresh grace window gets the same response again; sealed under a key derived from the server's key and
-- the rotated token, so that neither a copy of the database nor the token alone opens it. Written by the rotation's
-- own UPDATE. NULL on unused tokens, with the grace window off, and on rows rotated before it was kept here (a retry
-- of those is refused without revoking anything).
ALTER TABLE refresh_tokens ADD COLUMN grace_record BYTEA;
