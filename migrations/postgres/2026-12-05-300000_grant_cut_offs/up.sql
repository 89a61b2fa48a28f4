-- When a user withdraws an app's access on the account page: the access tokens issued to that client for that
-- user up to then are ended, those that no refresh token records too. A row is kept until the longest access
-- token issued before it has expired (`expires_at`), then purged with the revoked `jti`s.
CREATE TABLE grant_cut_offs (
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    revoked_before BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX grant_cut_offs_client_id_idx ON grant_cut_offs (client_id);
CREATE INDEX grant_cut_offs_expires_at_idx ON grant_cut_offs (expires_at);
