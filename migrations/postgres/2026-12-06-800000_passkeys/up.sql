-- Users' passkeys (WebAuthn credentials). `credential` is the verifier's record of the credential as JSON: its
-- public key, signature counter and flags, nothing secret. `credential_id` is the authenticator's id of it
-- (base64url), unique across users: a sign-in without a username finds the passkey by it.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    credential    TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id);
