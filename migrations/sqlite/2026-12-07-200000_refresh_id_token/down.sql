ALTER TABLE refresh_tokens DROP COLUMN id_token_claims;
ALTER TABLE refresh_tokens DROP COLUMN amr;
