-- Each change of a client counts up its revision, and a change is written only over the revision it was made from
-- (`ClientStore::update_client`): an update built from an earlier read (an operator's PUT, a secret rotation, a
-- client's own PUT /register) cannot undo another made meanwhile. Releases before this one do not count; they
-- still write only over the secret they read.
ALTER TABLE clients ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
