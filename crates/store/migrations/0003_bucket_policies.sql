-- S3 bucket policies, in the database so that replicas of the S3 endpoint share them.
CREATE TABLE bucket_policies (
    bucket TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    modified_at BIGINT NOT NULL
);
