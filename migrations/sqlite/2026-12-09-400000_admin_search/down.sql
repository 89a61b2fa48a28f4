DROP INDEX audit_events_kind_at_idx;
