"""Setup of scripts/bench-s3: creates the bucket and the objects through the authorizing
endpoint, then prints one presigned URL per line, in the order
  GET 4 KiB, PUT 4 KiB, GET 1 MiB, PUT 1 MiB
for each endpoint given, one endpoint after the other. The URLs are SigV4 query-signed with the
admin keys (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_REGION from the environment) and valid for
one hour, so that wrk sends plain GET and PUT requests.
Usage: s3-presign.py BODY_4K BODY_1M ENDPOINT..."""

import sys

import boto3
from botocore.config import Config

BUCKET = "bench"
CONFIG = Config(signature_version="s3v4", s3={"addressing_style": "path"})


def client(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, config=CONFIG)


def main():
    body_4k, body_1m, *endpoints = sys.argv[1:]
    setup = client(endpoints[0])
    setup.create_bucket(Bucket=BUCKET)
    for key, path in (("get-4k", body_4k), ("get-1m", body_1m)):
        with open(path, "rb") as body:
            setup.put_object(Bucket=BUCKET, Key=key, Body=body.read())
    for endpoint in endpoints:
        s3 = client(endpoint)
        for operation, key in (
            ("get_object", "get-4k"),
            ("put_object", "put-4k"),
            ("get_object", "get-1m"),
            ("put_object", "put-1m"),
        ):
            print(
                s3.generate_presigned_url(
                    operation, Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=3600
                )
            )


main()
