"""Part of scripts/bench-s3: prints a GET of bench/get-4k or a PUT of BODY_4K to bench/put-4k,
signed in headers with SigV4 as the SDKs sign (botocore's signer, the payload's SHA-256 in
x-amz-content-sha256): the URL, then each header as `Name: value`, tab-separated, on one line.
S3 accepts such a request again until 15 minutes after its x-amz-date, so wrk can send it
unchanged for a round. Keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_REGION.
Usage: s3-sign-headers.py GET|PUT ENDPOINT BODY_4K"""

import os
import sys

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REQUESTS = {"GET": "get-4k", "PUT": "put-4k"}


def main():
    method, endpoint, body_4k = sys.argv[1:]
    if method not in REQUESTS:
        sys.exit(f"s3-sign-headers.py: method {method} is not one of {', '.join(REQUESTS)}")
    credentials = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    data = b""
    if method == "PUT":
        with open(body_4k, "rb") as file:
            data = file.read()
    request = AWSRequest(method=method, url=f"{endpoint}/bench/{REQUESTS[method]}", data=data)
    S3SigV4Auth(credentials, "s3", os.environ["AWS_REGION"]).add_auth(request)
    headers = [f"{name}: {value}" for name, value in request.headers.items()]
    print("\t".join([request.url, *headers]))


main()
