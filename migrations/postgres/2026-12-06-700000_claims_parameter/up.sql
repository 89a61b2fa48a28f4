-- The user claims (space-separated names) the `claims` request parameter asked for (OIDC Core §5.5): those a user
-- granted a client beyond its scopes, and those UserInfo returns for a refresh token family's access tokens.
-- Empty or NULL: none (every row stored before).
ALTER TABLE consents ADD COLUMN claims TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN userinfo_claims TEXT;
