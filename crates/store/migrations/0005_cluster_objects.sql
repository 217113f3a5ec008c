-- The Secrets and ConfigMaps of a podpass cluster, which its kubelet projects into pods. `data`
-- is a JSON object of key to base64 bytes, as a Secret's `data` is written.
CREATE TABLE cluster_objects (
    cluster_name TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (cluster_name, namespace, kind, name)
);
