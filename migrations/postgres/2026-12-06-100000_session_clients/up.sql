-- The clients issued tokens within a browser session that asked to be told when it ends (OpenID Connect
-- Back-Channel Logout 1.0): only clients with a backchannel_logout_uri are recorded, with the sid their ID tokens
-- named (a session handed over at a new sign-in keeps the sids of the one before). A row goes with its session
-- (purged once expired) or its client.
CREATE TABLE session_clients (
    session_id TEXT NOT NULL REFERENCES sessions (id_hash) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    sid        TEXT NOT NULL,
    PRIMARY KEY (session_id, client_id, sid)
);
CREATE INDEX session_clients_client_id_idx ON session_clients (client_id);
