-- Identities at upstream OpenID providers ("Sign in with …"), each linked to one local user. The provider's
-- `sub` is unique per provider only, so the pair is the key. Deleting the user deletes their links.
CREATE TABLE federated_identities (
    provider_id  TEXT NOT NULL,
    subject      TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (provider_id, subject)
);
CREATE INDEX federated_identities_user_id ON federated_identities (user_id);
-- A federated sign-in looks for a local account with the address the provider gives, in any letter case.
CREATE INDEX users_email_lower ON users (lower(email));
