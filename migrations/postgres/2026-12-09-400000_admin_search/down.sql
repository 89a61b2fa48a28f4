DROP INDEX audit_events_kind_at_idx;
DROP INDEX users_email_lower_c_idx;
DROP INDEX users_username_key_c_idx;
