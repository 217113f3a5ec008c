//! Amazon Resource Names (`arn:partition:service:region:account-id:resource`): parsed into
//! borrowed fields without allocation, and built by one function per kind of resource, so that
//! no other crate splits or formats an ARN by hand. No I/O.

use std::fmt;

/// The partition podpass acts in.
pub const PARTITION: &str = "aws";

/// An ARN's six fields, borrowed from the text they were parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: &'a str,
    /// `iam`, `sts`, `eks`, `s3`, ...
    pub service: &'a str,
    /// Empty for global services (IAM, STS, S3 buckets).
    pub region: &'a str,
    /// Twelve digits, `aws` for AWS managed policies, empty for S3.
    pub account: &'a str,
    /// Everything after the fifth colon, colons included (`role/path/name`, `root`).
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `text` into its fields: `None` unless it starts with `arn:` and has all six (the
    /// resource may be empty only where AWS allows it, which is for the caller to judge).
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut fields = text.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return None;
        };
        let resource = fields.next()?;
        Some(Self {
            partition,
            service,
            region,
            account,
            resource,
        })
    }

    /// The resource's type and what follows it: `role/team/app` gives `("role", "team/app")`,
    /// `root` gives `("root", "")`.
    pub fn resource_type(&self) -> (&'a str, &'a str) {
        match self.resource.find(['/', ':']) {
            Some(at) => (&self.resource[..at], &self.resource[at + 1..]),
            None => (self.resource, ""),
        }
    }

    /// Path and name of an IAM resource of type `kind`: `role/team/app` gives
    /// `("/team/", "app")`; `None` for another type or an empty name.
    pub fn path_and_name(&self, kind: &str) -> Option<(&'a str, &'a str)> {
        let rest = self.resource.strip_prefix(kind)?;
        if !rest.starts_with('/') {
            return None;
        }
        let slash = rest.rfind('/')?;
        let (path, name) = (&rest[..=slash], &rest[slash + 1..]);
        (!name.is_empty()).then_some((path, name))
    }
}

impl fmt::Display for Arn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

/// `arn:aws:iam::ACCOUNT:root`, the account's root user.
pub fn account_root(account: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:root")
}

/// `arn:aws:iam::ACCOUNT:role/PATH/NAME`; `path` starts and ends with `/`.
pub fn role(account: &str, path: &str, name: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:role{path}{name}")
}

/// `arn:aws:iam::ACCOUNT:user/PATH/NAME`; `path` starts and ends with `/`.
pub fn user(account: &str, path: &str, name: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:user{path}{name}")
}

/// `arn:aws:iam::ACCOUNT:group/PATH/NAME`.
pub fn group(account: &str, path: &str, name: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:group{path}{name}")
}

/// `arn:aws:iam::ACCOUNT:policy/PATH/NAME` of a customer managed policy.
pub fn policy(account: &str, path: &str, name: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:policy{path}{name}")
}

/// `arn:aws:iam::ACCOUNT:oidc-provider/URL`, `url` without its scheme.
pub fn oidc_provider(account: &str, url: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:oidc-provider/{url}")
}

/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` of a role session (the role's path is
/// not part of it).
pub fn assumed_role(account: &str, role_name: &str, session_name: &str) -> String {
    format!("arn:{PARTITION}:sts::{account}:assumed-role/{role_name}/{session_name}")
}

/// `arn:aws:eks:REGION:ACCOUNT:cluster/NAME`.
pub fn eks_cluster(region: &str, account: &str, name: &str) -> String {
    format!("arn:{PARTITION}:eks:{region}:{account}:cluster/{name}")
}

/// `arn:aws:eks:REGION:ACCOUNT:podidentityassociation/CLUSTER/ID`.
pub fn pod_identity_association(region: &str, account: &str, cluster: &str, id: &str) -> String {
    format!("arn:{PARTITION}:eks:{region}:{account}:podidentityassociation/{cluster}/{id}")
}

/// `arn:aws:s3:::BUCKET`.
pub fn s3_bucket(bucket: &str) -> String {
    format!("arn:{PARTITION}:s3:::{bucket}")
}

/// `arn:aws:s3:::BUCKET/KEY`.
pub fn s3_object(bucket: &str, key: &str) -> String {
    format!("arn:{PARTITION}:s3:::{bucket}/{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_six_fields_and_keeps_colons_in_the_resource() {
        let arn = Arn::parse("arn:aws:s3:::bucket/a:b").unwrap();
        assert_eq!(
            (arn.partition, arn.service, arn.region, arn.account),
            ("aws", "s3", "", "")
        );
        assert_eq!(arn.resource, "bucket/a:b");
        assert_eq!(arn.to_string(), "arn:aws:s3:::bucket/a:b");
    }

    #[test]
    fn refuses_what_is_not_an_arn() {
        for text in [
            "",
            "arn",
            "arn:aws:iam::1",
            "urn:aws:iam::1:root",
            "aws:iam::1:root:x",
        ] {
            assert_eq!(Arn::parse(text), None, "{text}");
        }
    }

    #[test]
    fn splits_resource_types_paths_and_names() {
        let arn = Arn::parse("arn:aws:iam::111122223333:role/team/app").unwrap();
        assert_eq!(arn.resource_type(), ("role", "team/app"));
        assert_eq!(arn.path_and_name("role"), Some(("/team/", "app")));
        assert_eq!(arn.path_and_name("user"), None);
        let root = Arn::parse("arn:aws:iam::111122223333:root").unwrap();
        assert_eq!(root.resource_type(), ("root", ""));
        assert_eq!(root.path_and_name("role"), None);
        let bare = Arn::parse("arn:aws:iam::1:role/").unwrap();
        assert_eq!(bare.path_and_name("role"), None);
        let prefixed = Arn::parse("arn:aws:iam::1:roles/x").unwrap();
        assert_eq!(prefixed.path_and_name("role"), None);
    }

    #[test]
    fn builders_round_trip_through_parse() {
        let role = role("111122223333", "/team/", "app");
        assert_eq!(role, "arn:aws:iam::111122223333:role/team/app");
        let parsed = Arn::parse(&role).unwrap();
        assert_eq!(parsed.path_and_name("role"), Some(("/team/", "app")));
        assert_eq!(
            assumed_role("1", "r", "s"),
            "arn:aws:sts::1:assumed-role/r/s"
        );
        assert_eq!(
            eks_cluster("eu-west-1", "1", "c"),
            "arn:aws:eks:eu-west-1:1:cluster/c"
        );
        assert_eq!(s3_object("b", "k/x"), "arn:aws:s3:::b/k/x");
        assert_eq!(account_root("1"), "arn:aws:iam::1:root");
    }

    proptest::proptest! {
        /// Whatever text arrives (a RoleArn parameter, a policy's principal, a stored key's
        /// principal), parsing never panics, and what parses prints back byte for byte with
        /// fields that hold no colon, except the resource.
        #[test]
        fn any_text_parses_safely_and_round_trips(text in "(arn:)?[a-z:/*.-]{0,40}|\\PC{0,60}") {
            if let Some(arn) = Arn::parse(&text) {
                proptest::prop_assert_eq!(arn.to_string(), text.clone());
                for field in [arn.partition, arn.service, arn.region, arn.account] {
                    proptest::prop_assert!(!field.contains(':'));
                }
                let (kind, rest) = arn.resource_type();
                proptest::prop_assert!(arn.resource.starts_with(kind));
                proptest::prop_assert!(arn.resource.ends_with(rest));
                if let Some((path, name)) = arn.path_and_name("role") {
                    proptest::prop_assert!(path.starts_with('/') && path.ends_with('/'));
                    proptest::prop_assert!(!name.is_empty() && !name.contains('/'));
                }
            }
        }
    }
}
