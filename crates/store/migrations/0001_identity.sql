-- Portable schema: TEXT, BIGINT (epoch seconds), BLOB only, so PostgreSQL can share the code path.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    secret_access_key TEXT NOT NULL,
    principal_arn TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE clusters (
    name TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL UNIQUE,
    issuer_url TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    cluster_name TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
    algorithm TEXT NOT NULL,
    private_key_pem TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- set when a newer key takes over; the key stays published until tokens it signed have expired
    retired_at BIGINT,
    publish_until BIGINT
);

CREATE TABLE service_accounts (
    cluster_name TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL,
    annotations TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (cluster_name, namespace, name)
);

CREATE TABLE roles (
    name_key TEXT PRIMARY KEY, -- lower-cased name: IAM role names are unique case-insensitively
    role_name TEXT NOT NULL,
    role_id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    trust_policy TEXT NOT NULL,
    description TEXT,
    max_session_duration BIGINT NOT NULL,
    permissions_boundary TEXT,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE role_policies (
    role_key TEXT NOT NULL REFERENCES roles(name_key) ON DELETE CASCADE,
    policy_name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (role_key, policy_name)
);

CREATE TABLE managed_policies (
    arn TEXT PRIMARY KEY,
    policy_id TEXT NOT NULL UNIQUE,
    policy_name TEXT NOT NULL,
    path TEXT NOT NULL,
    description TEXT,
    default_version_id TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE policy_versions (
    policy_arn TEXT NOT NULL REFERENCES managed_policies(arn) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (policy_arn, version_id)
);

CREATE TABLE role_attachments (
    role_key TEXT NOT NULL REFERENCES roles(name_key) ON DELETE CASCADE,
    policy_arn TEXT NOT NULL,
    PRIMARY KEY (role_key, policy_arn)
);

CREATE TABLE oidc_providers (
    arn TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    client_ids TEXT NOT NULL,
    thumbprints TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sealing_keys (
    key_id BIGINT PRIMARY KEY,
    key_material BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
