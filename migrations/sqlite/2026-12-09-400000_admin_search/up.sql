-- The audit trail by event type (`GET /admin/api/audit?type=`, `tessera audit list --type`), newest first. The user
-- search by prefix needs no index of its own here: SQLite compares bytes, so `users_username_key_idx` and
-- `users_email_lower` serve its ranges (Postgres adds byte-ordered ones in this migration).
CREATE INDEX audit_events_kind_at_idx ON audit_events (kind, at, id);
