//! AWS managed policies podpass ships, with their real documents.
//!
//! `ReadOnlyAccess` is a faithful *subset* of the real document (the real one lists several
//! hundred service read actions); every other document is the full AWS text.

use crate::document::{Policy, PolicyKind};
use crate::error::PolicyError;
use crate::eval::{NamedPolicy, PolicyType};

/// An AWS managed policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedPolicy {
    /// Policy name.
    pub name: &'static str,
    /// IAM path.
    pub path: &'static str,
    /// AWS description.
    pub description: &'static str,
    /// Default version id.
    pub default_version_id: &'static str,
    /// Policy document (JSON).
    pub document: &'static str,
}

/// ARN prefix of AWS managed policies.
pub const AWS_MANAGED_ARN_PREFIX: &str = "arn:aws:iam::aws:policy";

impl ManagedPolicy {
    /// `arn:aws:iam::aws:policy<path><name>`.
    pub fn arn(&self) -> String {
        format!("{AWS_MANAGED_ARN_PREFIX}{}{}", self.path, self.name)
    }

    /// Compiles the document as an identity policy named after this policy.
    pub fn compile(&self) -> Result<NamedPolicy, PolicyError> {
        let policy = Policy::parse(self.document, PolicyKind::Identity)?;
        Ok(NamedPolicy::new(self.name, PolicyType::AwsManaged, policy).with_arn(self.arn()))
    }
}

const READ_ONLY_ACCESS: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadOnlyActions",
            "Effect": "Allow",
            "Action": [
                "access-analyzer:Get*",
                "access-analyzer:List*",
                "acm:Describe*",
                "acm:Get*",
                "acm:List*",
                "autoscaling:Describe*",
                "cloudformation:Describe*",
                "cloudformation:Get*",
                "cloudformation:List*",
                "cloudfront:Get*",
                "cloudfront:List*",
                "cloudtrail:Describe*",
                "cloudtrail:Get*",
                "cloudtrail:List*",
                "cloudtrail:LookupEvents",
                "cloudwatch:Describe*",
                "cloudwatch:Get*",
                "cloudwatch:List*",
                "dynamodb:BatchGet*",
                "dynamodb:Describe*",
                "dynamodb:Get*",
                "dynamodb:List*",
                "dynamodb:Query",
                "dynamodb:Scan",
                "ec2:Describe*",
                "ec2:Get*",
                "ecr:BatchCheck*",
                "ecr:BatchGet*",
                "ecr:Describe*",
                "ecr:Get*",
                "ecr:List*",
                "eks:Describe*",
                "eks:List*",
                "elasticloadbalancing:Describe*",
                "iam:Generate*",
                "iam:Get*",
                "iam:List*",
                "iam:Simulate*",
                "kms:Describe*",
                "kms:Get*",
                "kms:List*",
                "lambda:Get*",
                "lambda:List*",
                "logs:Describe*",
                "logs:FilterLogEvents",
                "logs:Get*",
                "logs:ListTagsLogGroup",
                "logs:StartQuery",
                "logs:StopQuery",
                "logs:TestMetricFilter",
                "organizations:Describe*",
                "organizations:List*",
                "rds:Describe*",
                "rds:List*",
                "route53:Get*",
                "route53:List*",
                "s3:Describe*",
                "s3:Get*",
                "s3:List*",
                "secretsmanager:Describe*",
                "secretsmanager:GetResourcePolicy",
                "secretsmanager:List*",
                "sns:Get*",
                "sns:List*",
                "sqs:Get*",
                "sqs:List*",
                "sqs:Receive*",
                "ssm:Describe*",
                "ssm:Get*",
                "ssm:List*",
                "sts:GetAccessKeyInfo",
                "sts:GetCallerIdentity",
                "sts:GetSessionToken",
                "tag:Get*"
            ],
            "Resource": "*"
        }
    ]
}"#;

/// The shipped AWS managed policies.
pub const MANAGED_POLICIES: &[ManagedPolicy] = &[
    ManagedPolicy {
        name: "AdministratorAccess",
        path: "/",
        description: "Provides full access to AWS services and resources.",
        default_version_id: "v1",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    },
    ManagedPolicy {
        name: "PowerUserAccess",
        path: "/",
        description: "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
        default_version_id: "v5",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["account:GetAccountInformation","account:GetPrimaryEmail","account:ListRegions","iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization"],"Resource":"*"}]}"#,
    },
    ManagedPolicy {
        name: "ReadOnlyAccess",
        path: "/",
        description: "Provides read-only access to AWS services and resources.",
        default_version_id: "v1",
        document: READ_ONLY_ACCESS,
    },
    ManagedPolicy {
        name: "IAMReadOnlyAccess",
        path: "/",
        description: "Provides read only access to IAM via the AWS Management Console.",
        default_version_id: "v4",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    },
    ManagedPolicy {
        name: "AmazonS3ReadOnlyAccess",
        path: "/",
        description: "Provides read only access to all buckets via the AWS Management Console.",
        default_version_id: "v3",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],"Resource":"*"}]}"#,
    },
    ManagedPolicy {
        name: "AmazonS3FullAccess",
        path: "/",
        description: "Provides full access to all buckets via the AWS Management Console.",
        default_version_id: "v2",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}"#,
    },
];

/// Looks a managed policy up by name (case-sensitive, as IAM).
pub fn by_name(name: &str) -> Option<&'static ManagedPolicy> {
    MANAGED_POLICIES.iter().find(|p| p.name == name)
}

/// Looks a managed policy up by ARN.
pub fn by_arn(arn: &str) -> Option<&'static ManagedPolicy> {
    MANAGED_POLICIES.iter().find(|p| p.arn() == arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{SizedDocument, check_size};

    #[test]
    fn every_document_compiles_and_fits() {
        for policy in MANAGED_POLICIES {
            let named = policy.compile().unwrap();
            assert_eq!(named.arn.as_deref(), Some(policy.arn().as_str()));
            assert!(check_size(SizedDocument::ManagedPolicy, [policy.document]).is_ok());
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(
            by_name("AmazonS3ReadOnlyAccess")
                .map(ManagedPolicy::arn)
                .as_deref(),
            Some("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
        );
        assert_eq!(
            by_arn("arn:aws:iam::aws:policy/AdministratorAccess").map(|p| p.name),
            Some("AdministratorAccess")
        );
        assert_eq!(by_name("amazons3readonlyaccess"), None);
        assert_eq!(by_arn("arn:aws:iam::aws:policy/Nope"), None);
    }
}
