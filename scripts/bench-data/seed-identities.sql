-- scripts/bench-state: a large IAM and EKS state in a running instance's store, SQLite (its
-- WAL lets another writer in) or PostgreSQL: the SQL is both's. :account is replaced by the
-- instance's account id.
-- 10,000 roles, 1,000 IAM OIDC providers and 10,000 Pod Identity associations of the `demo`
-- cluster, none of which the benchmarked calls name.
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO roles (name_key, role_name, role_id, path, arn, trust_policy, description,
                   max_session_duration, permissions_boundary, tags, created_at)
SELECT 'seed-role-' || i, 'seed-role-' || i, 'AROASEED' || i, '/seed/',
       'arn:aws:iam:::account:role/seed/seed-role-' || i,
       '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam:::account:oidc-provider/seed.example.com/id/' || (i % 1000) || '"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"seed.example.com/id/' || (i % 1000) || ':sub":"system:serviceaccount:seed:sa-' || i || '"}}}]}',
       NULL, 3600, NULL, '[]', 0
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO oidc_providers (arn, url, client_ids, thumbprints, tags, created_at)
SELECT 'arn:aws:iam:::account:oidc-provider/seed.example.com/id/' || i,
       'https://seed.example.com/id/' || i, '["sts.amazonaws.com"]', '[]', '[]', 0
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO pod_identity_associations (association_id, cluster_name, namespace,
                   service_account, role_arn, association_arn, tags, owner_arn,
                   disable_session_tags, target_role_arn, external_id, session_policy,
                   created_at, modified_at)
SELECT 'a-seed' || i, 'demo', 'seed-' || (i / 100), 'sa-' || i,
       'arn:aws:iam:::account:role/seed/seed-role-' || i,
       'arn:aws:eks:us-east-1::account:podidentityassociation/demo/a-seed' || i,
       '{}', NULL, 0, NULL, NULL, NULL, 0, 0
FROM n;
COMMIT;
