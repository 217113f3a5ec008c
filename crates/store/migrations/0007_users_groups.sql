-- IAM users and groups. Their inline policies, attachments and memberships are keyed by the
-- entity's immutable unique id (AIDA..., AGPA...), so a rename touches one row.
CREATE TABLE users (
    name_key TEXT PRIMARY KEY, -- lower-cased name: IAM user names are unique case-insensitively
    user_name TEXT NOT NULL,
    user_id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    permissions_boundary TEXT,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE iam_groups (
    name_key TEXT PRIMARY KEY,
    group_name TEXT NOT NULL,
    group_id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Inline policies and managed policy attachments of users and groups (holder: their id).
CREATE TABLE holder_policies (
    holder_id TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (holder_id, policy_name)
);

CREATE TABLE holder_attachments (
    holder_id TEXT NOT NULL,
    policy_arn TEXT NOT NULL,
    PRIMARY KEY (holder_id, policy_arn)
);
CREATE INDEX holder_attachments_policy ON holder_attachments (policy_arn);

-- A user's keys name it by id; the account root's keys have none.
ALTER TABLE access_keys ADD COLUMN user_id TEXT;
ALTER TABLE access_keys ADD COLUMN active BIGINT NOT NULL DEFAULT 1;
