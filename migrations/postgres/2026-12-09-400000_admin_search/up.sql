-- The admin API's user search (`GET /admin/api/users?search=`, `tessera users list --search`) finds usernames and
-- email addresses by prefix, as a range in byte order (`COLLATE "C"`): in the database's own collation a prefix
-- need not be one range, so the indexes that serve it sort bytes. SQLite's indexes do already.
CREATE INDEX users_username_key_c_idx ON users (username_key COLLATE "C");
CREATE INDEX users_email_lower_c_idx ON users (lower(email) COLLATE "C");
-- The audit trail by event type (`GET /admin/api/audit?type=`, `tessera audit list --type`), newest first.
CREATE INDEX audit_events_kind_at_idx ON audit_events (kind, at, id);
