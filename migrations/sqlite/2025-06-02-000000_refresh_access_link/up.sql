-- Links each refresh token to the access token issued with it, so revoking refresh tokens (a family on reuse,
-- a session on logout, a user or a client) also revokes the access tokens still alive. Both NULL for rows
-- written before this migration and for tokens issued without an access token.
-- refresh_tokens (family_id) is indexed by the initial migration already.
ALTER TABLE refresh_tokens ADD COLUMN access_jti TEXT NULL;
ALTER TABLE refresh_tokens ADD COLUMN access_expires_at BIGINT NULL;
