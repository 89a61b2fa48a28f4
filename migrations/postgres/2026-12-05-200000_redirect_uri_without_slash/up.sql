-- Releases before 2026-12-05 stored each redirect URI in the URL parser's form, not as the client gave it, and
-- an origin gained a slash: `https://spa.example` was kept as `https://spa.example/`. Redirect URIs are now
-- compared as text (RFC 9700 §2.1), so such an app, still sending `https://spa.example`, was refused after the
-- upgrade. For every `http(s)://authority/` URI (the path `/` alone) the form without the slash is registered
-- beside it: the same resource in every browser, so nothing is opened that was not. (A lower-cased host or a
-- dropped default port cannot be undone: the original text is gone.)
CREATE OR REPLACE FUNCTION pg_temp.with_origins_unslashed(uris TEXT) RETURNS TEXT AS $$
    SELECT COALESCE(json_agg(uri ORDER BY position, variant)::text, '[]')
    FROM json_array_elements_text(uris::json) WITH ORDINALITY AS stored(given, position),
         LATERAL (VALUES (given, 0), (left(given, -1), 1)) AS forms(uri, variant)
    WHERE variant = 0
       OR (given ~ '^https?://[^/?#]+/$' AND NOT uris::jsonb ? left(given, -1))
$$ LANGUAGE SQL IMMUTABLE;

UPDATE clients
SET redirect_uris = pg_temp.with_origins_unslashed(redirect_uris),
    post_logout_redirect_uris = pg_temp.with_origins_unslashed(post_logout_redirect_uris)
WHERE redirect_uris::jsonb <> pg_temp.with_origins_unslashed(redirect_uris)::jsonb
   OR post_logout_redirect_uris::jsonb <> pg_temp.with_origins_unslashed(post_logout_redirect_uris)::jsonb;

DROP FUNCTION pg_temp.with_origins_unslashed(TEXT);
