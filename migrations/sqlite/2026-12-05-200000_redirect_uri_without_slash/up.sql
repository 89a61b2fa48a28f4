-- Releases before 2026-12-05 stored each redirect URI in the URL parser's form, not as the client gave it, and
-- an origin gained a slash: `https://spa.example` was kept as `https://spa.example/`. Redirect URIs are now
-- compared as text (RFC 9700 §2.1), so such an app, still sending `https://spa.example`, was refused after the
-- upgrade. For every `http(s)://authority/` URI (the path `/` alone) the form without the slash is registered
-- beside it: the same resource in every browser, so nothing is opened that was not. (A lower-cased host or a
-- dropped default port cannot be undone: the original text is gone.)
CREATE TEMP VIEW origin_uris AS
SELECT clients.id AS client_id, 'redirect' AS list, stored.key AS position, stored.value AS given
FROM clients, json_each(clients.redirect_uris) AS stored
UNION ALL
SELECT clients.id, 'logout', stored.key, stored.value
FROM clients, json_each(clients.post_logout_redirect_uris) AS stored;

CREATE TEMP TABLE unslashed AS
SELECT o.client_id, o.list, o.position, substr(o.given, 1, length(o.given) - 1) AS uri
FROM origin_uris AS o
WHERE (o.given GLOB 'http://?*/' OR o.given GLOB 'https://?*/')
  AND instr(substr(o.given, instr(o.given, '://') + 3), '/') = length(substr(o.given, instr(o.given, '://') + 3))
  AND instr(o.given, '?') = 0 AND instr(o.given, '#') = 0
  AND NOT EXISTS (
      SELECT 1 FROM origin_uris AS same
      WHERE same.client_id = o.client_id AND same.list = o.list
        AND same.given = substr(o.given, 1, length(o.given) - 1)
  );

UPDATE clients SET redirect_uris = (
    SELECT json_group_array(uri) FROM (
        SELECT given AS uri, position, 0 AS variant FROM origin_uris WHERE client_id = clients.id AND list = 'redirect'
        UNION ALL
        SELECT uri, position, 1 FROM unslashed WHERE client_id = clients.id AND list = 'redirect'
        ORDER BY position, variant
    )
)
WHERE id IN (SELECT client_id FROM unslashed WHERE list = 'redirect');

UPDATE clients SET post_logout_redirect_uris = (
    SELECT json_group_array(uri) FROM (
        SELECT given AS uri, position, 0 AS variant FROM origin_uris WHERE client_id = clients.id AND list = 'logout'
        UNION ALL
        SELECT uri, position, 1 FROM unslashed WHERE client_id = clients.id AND list = 'logout'
        ORDER BY position, variant
    )
)
WHERE id IN (SELECT client_id FROM unslashed WHERE list = 'logout');

DROP TABLE unslashed;
DROP VIEW origin_uris;
