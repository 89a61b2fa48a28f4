-- Groups of users, named by operators; a grant with the `groups` scope carries its user's group names as the
-- `groups` claim. Names are unique as written (letter case matters).
CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
-- Who is in which group: gone with the user or the group.
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX group_members_group_id_idx ON group_members (group_id);
