"""Setup of scripts/bench-sts: an IAM user `bench-caller` allowed sts:AssumeRole on a role
`bench-assumed` that trusts it, made through ENDPOINT's IAM with the admin keys in the
environment, so that an AssumeRole call evaluates both the caller's identity policy and the
role's trust policy (the account root may not assume roles). Prints shell assignments of the
user's keys and the role's ARN: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ROLE_ARN.
Usage: assume-role-setup.py ENDPOINT"""

import json
import os
import sys

import boto3


def main():
    (endpoint,) = sys.argv[1:]
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=os.environ["AWS_REGION"])
    user = iam.create_user(UserName="bench-caller")["User"]
    role = iam.create_role(
        RoleName="bench-assumed",
        AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": user["Arn"]},
                "Action": "sts:AssumeRole",
            }],
        }),
    )["Role"]
    iam.put_user_policy(
        UserName="bench-caller",
        PolicyName="assume",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]}],
        }),
    )
    key = iam.create_access_key(UserName="bench-caller")["AccessKey"]
    print(f"AWS_ACCESS_KEY_ID={key['AccessKeyId']}")
    print(f"AWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}")
    print(f"ROLE_ARN={role['Arn']}")


if __name__ == "__main__":
    main()
