"""Setup of scripts/bench-sts and scripts/bench-state: one POST of BODY_FILE to URL, SigV4-signed
for SERVICE with the keys in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION). A signed request stays valid for the clock-skew window, so wrk can send it again
for a few minutes, each time a full call. Prints the signed headers, one `Name: value` per line.
Usage: sign-request.py SERVICE URL BODY_FILE CONTENT_TYPE"""

import os
import sys

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


def main():
    service, url, body_file, content_type = sys.argv[1:]
    with open(body_file, "rb") as file:
        body = file.read()
    credentials = botocore.session.get_session().get_credentials()
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": content_type})
    SigV4Auth(credentials, service, os.environ["AWS_REGION"]).add_auth(request)
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
        if name in request.headers:
            print(f"{name}: {request.headers[name]}")


if __name__ == "__main__":
    main()
