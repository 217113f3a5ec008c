-- Clusters whose ServiceAccount tokens a real kube-apiserver issues: podpass verifies them with
-- the issuer's published keys (OIDC discovery) or with a JWKS registered with the cluster.
ALTER TABLE clusters ADD COLUMN token_keys TEXT NOT NULL DEFAULT 'podpass';
ALTER TABLE clusters ADD COLUMN jwks TEXT;
