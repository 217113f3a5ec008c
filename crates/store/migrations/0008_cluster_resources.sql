-- Kubernetes objects of a podpass cluster that its API server keeps as they were applied, for
-- what acts on them: RBAC (the local Kubernetes API authorizes with it), Services and
-- MutatingWebhookConfigurations (admission calls the webhooks they register). `namespace` is
-- empty for cluster-scoped kinds; `object` is the JSON document.
CREATE TABLE cluster_resources (
    cluster_name TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    object TEXT NOT NULL,
    PRIMARY KEY (cluster_name, kind, namespace, name)
);
