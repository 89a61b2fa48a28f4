-- Tessera initial schema (Postgres). Column types are kept portable so one diesel schema.rs fits this tree and
-- the SQLite one: TEXT, BIGINT (every time is Unix epoch seconds), BOOLEAN, BYTEA, and TEXT holding JSON.

CREATE TABLE users (
    id             TEXT NOT NULL PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    email          TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    name           TEXT,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    revoked_before BIGINT
);

CREATE TABLE clients (
    id                         TEXT NOT NULL PRIMARY KEY,
    name                       TEXT NOT NULL,
    secret_hash                TEXT,
    previous_secret_hash       TEXT,
    previous_secret_expires_at BIGINT,
    auth_method                TEXT NOT NULL,
    redirect_uris              TEXT NOT NULL,  -- JSON array of strings
    post_logout_redirect_uris  TEXT NOT NULL,  -- JSON array of strings
    grant_types                TEXT NOT NULL,  -- JSON array of strings
    scope                      TEXT NOT NULL,  -- space separated
    resources                  TEXT NOT NULL,  -- JSON array of strings
    first_party                BOOLEAN NOT NULL DEFAULT FALSE,
    admin                      BOOLEAN NOT NULL DEFAULT FALSE,
    require_pkce               BOOLEAN NOT NULL DEFAULT TRUE,
    access_token_ttl           BIGINT,
    metadata                   TEXT NOT NULL,  -- JSON object (ClientMetadata)
    registration_token_hash    TEXT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL,
    revoked_before             BIGINT
);

CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
-- Postgres does not index the referencing side of a foreign key; deleting a client would scan consents.
CREATE INDEX consents_client_id_idx ON consents (client_id);

CREATE TABLE sessions (
    id_hash    TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  BIGINT NOT NULL,
    amr        TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- session_id has no foreign key: sessions are pruned when they expire while offline tokens live on.
CREATE TABLE refresh_tokens (
    id              TEXT NOT NULL PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
    family_id       TEXT NOT NULL,
    parent_id       TEXT,
    client_id       TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id         TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id      TEXT,
    scope           TEXT NOT NULL,
    resource        TEXT,
    auth_time       BIGINT,
    offline         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    used_at         BIGINT,
    revoked         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_client_id_idx ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

CREATE TABLE revocations (
    jti        TEXT NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revocations_expires_at_idx ON revocations (expires_at);

CREATE TABLE signing_keys (
    kid                TEXT NOT NULL PRIMARY KEY,
    alg                TEXT NOT NULL,
    private_key_sealed BYTEA NOT NULL,
    public_jwk         TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    activates_at       BIGINT NOT NULL
);

-- One row whose version every instance compares-and-swaps when it changes signing_keys.
CREATE TABLE key_ring (
    id      INTEGER NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO key_ring (id, version) VALUES (1, 0);

-- No foreign keys: the audit trail outlives the users and clients it names.
CREATE TABLE audit_events (
    id         TEXT NOT NULL PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    actor      TEXT,
    user_id    TEXT,
    client_id  TEXT,
    ip         TEXT,
    user_agent TEXT,
    request_id TEXT,
    details    TEXT NOT NULL  -- JSON object
);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_user_id_idx ON audit_events (user_id);
CREATE INDEX audit_events_client_id_idx ON audit_events (client_id);

CREATE TABLE initial_access_tokens (
    token_hash TEXT NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
