-- Registered clusters whose tokens are also checked with the cluster's own kube-apiserver
-- (TokenReview), which refuses tokens of deleted pods and ServiceAccounts.
ALTER TABLE clusters ADD COLUMN token_review BIGINT NOT NULL DEFAULT 0;
