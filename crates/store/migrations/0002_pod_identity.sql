CREATE TABLE pod_identity_associations (
    association_id TEXT PRIMARY KEY,
    cluster_name TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    service_account TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    association_arn TEXT NOT NULL UNIQUE,
    tags TEXT NOT NULL,
    owner_arn TEXT,
    disable_session_tags BIGINT NOT NULL,
    target_role_arn TEXT,
    external_id TEXT,
    session_policy TEXT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    UNIQUE (cluster_name, namespace, service_account)
);
