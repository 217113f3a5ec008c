-- scripts/bench-state: keys seed/NNNN/MMMM (key number :first to :last) in the bucket `bench`
-- of a running instance's S3 catalog, each a copy of `get-4k`'s row (the same blob).
BEGIN;
WITH RECURSIVE n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n WHERE i < :last)
INSERT INTO objects (bucket, key, blob, size, etag, modified, attrs)
SELECT 'bench', printf('seed/%04d/%04d', i / 1000, i % 1000),
       o.blob, o.size, o.etag, o.modified, o.attrs
FROM n, (SELECT blob, size, etag, modified, attrs FROM objects
         WHERE bucket = 'bench' AND key = 'get-4k') AS o;
COMMIT;
-- Move the rows from the write-ahead log into the database, as a long-lived store would
-- have them, so that reads do not search a large log.
PRAGMA wal_checkpoint(TRUNCATE);
