"""Setup of scripts/bench-state: one EKS Auth AssumeRoleForPodIdentity request of the cluster
`demo` for the pod token in TOKEN_FILE, SigV4-signed with the admin keys (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION from the environment). A signed request stays valid for the
clock-skew window, so wrk can send it again for a few minutes, each time a full call.
Writes the JSON body to BODY_FILE and prints the signed headers, one `Name: value` per line.
Usage: eksauth-sign.py ENDPOINT TOKEN_FILE BODY_FILE"""

import json
import os
import sys

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


def main():
    endpoint, token_file, body_file = sys.argv[1:]
    with open(token_file) as file:
        body = json.dumps({"token": file.read().strip()})
    with open(body_file, "w") as file:
        file.write(body)
    credentials = botocore.session.get_session().get_credentials()
    request = AWSRequest(
        method="POST",
        url=f"{endpoint}/clusters/demo/assume-role-for-pod-identity",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(credentials, "eks-auth", os.environ["AWS_REGION"]).add_auth(request)
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
        if name in request.headers:
            print(f"{name}: {request.headers[name]}")


if __name__ == "__main__":
    main()
