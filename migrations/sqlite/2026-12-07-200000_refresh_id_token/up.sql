-- What the ID token of a refresh says of the sign-in its grant comes from (OIDC Core §12.2): how the user
-- authenticated (`amr`, space-separated; the `acr` follows from it) and the user claims the `claims` request
-- parameter asked for in the ID token (space-separated names). NULL: none (every row stored before, whose refreshed
-- ID tokens go on without them).
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT;
ALTER TABLE refresh_tokens ADD COLUMN id_token_claims TEXT;
