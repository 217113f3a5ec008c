"""Setup of scripts/bench-state on one S3 endpoint: creates the bucket `bench` with the 4 KiB
object `get-4k` (admin keys from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION), then prints three presigned URLs, one per line, valid for an hour:
  GetObject get-4k, ListObjectsV2 of the prefix seed/0500/ (1,000 keys), HeadObject get-4k
With --presign-only, the bucket and object are there already (made through another endpoint
onto the same objects): only the URLs are made.
Usage: state-presign.py ENDPOINT BODY_4K [--presign-only]"""

import sys

import boto3
from botocore.config import Config

BUCKET = "bench"


def main():
    endpoint, body_4k, *flags = sys.argv[1:]
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    if flags != ["--presign-only"]:
        s3.create_bucket(Bucket=BUCKET)
        with open(body_4k, "rb") as body:
            s3.put_object(Bucket=BUCKET, Key="get-4k", Body=body.read())
    for operation, params in (
        ("get_object", {"Bucket": BUCKET, "Key": "get-4k"}),
        ("list_objects_v2", {"Bucket": BUCKET, "Prefix": "seed/0500/", "MaxKeys": 1000}),
        ("head_object", {"Bucket": BUCKET, "Key": "get-4k"}),
    ):
        print(s3.generate_presigned_url(operation, Params=params, ExpiresIn=3600))


if __name__ == "__main__":
    main()
