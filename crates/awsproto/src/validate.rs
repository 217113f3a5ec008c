//! AWS-style member validation (`1 validation error detected: Value '..' at '..' failed to
//! satisfy constraint: ..`).

use crate::error::AwsError;

/// The AWS name of a member in validation messages: each segment in lowerCamel case and
/// list members as `<list>.<N>.member` (`Tags.member.1.Key` becomes `tags.1.member.key`).
pub fn member_path(wire_name: &str) -> String {
    let mut segments = wire_name.split('.').peekable();
    let mut out: Vec<String> = Vec::new();
    while let Some(segment) = segments.next() {
        let index = segments
            .peek()
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match index {
            Some(index) if segment == "member" => {
                out.push((*index).to_owned());
                out.push("member".to_owned());
                segments.next();
            }
            _ => out.push(lower_camel(segment)),
        }
    }
    out.join(".")
}

fn lower_camel(segment: &str) -> String {
    let mut chars = segment.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Length and pattern constraints of the member types STS and IAM validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberType {
    /// `roleSessionNameType` 2..64 `[\w+=,.@-]*`.
    RoleSessionName,
    /// `accessKeyIdType` 16..128 `[\w]*`.
    AccessKeyId,
    /// `roleNameType` 1..64 `[\w+=,.@-]+`.
    RoleName,
    /// `policyNameType` 1..128 `[\w+=,.@-]+`.
    PolicyName,
    /// `userNameType` 1..64 `[\w+=,.@-]+` (a user being created or renamed).
    UserName,
    /// `existingUserNameType` 1..128 `[\w+=,.@-]+`.
    ExistingUserName,
    /// `groupNameType` 1..128 `[\w+=,.@-]+`.
    GroupName,
    /// `pathType` 1..512 (role paths).
    Path,
    /// `pathPrefixType` 1..512 (ListRoles).
    PathPrefix,
    /// `policyPathType` 1..512 (managed policy paths and ListPolicies prefixes).
    PolicyPath,
    /// `arnType` 20..2048.
    Arn,
    /// `policyDocumentType` 1..131072 (Latin-1 text).
    PolicyDocument,
    /// `sessionPolicyDocumentType` 1..2048.
    SessionPolicy,
    /// `tagKeyType` 1..128.
    TagKey,
    /// `tagValueType` 0..256.
    TagValue,
    /// `externalIdType` 2..1224.
    ExternalId,
    /// `sourceIdentityType` 2..64.
    SourceIdentity,
    /// STS `encodedMessageType`.
    EncodedMessage,
    /// STS `serialNumberType` (an MFA device).
    SerialNumber,
    /// STS `tokenCodeType` (an MFA code).
    TokenCode,
    /// `roleDescriptionType` 0..1000.
    RoleDescription,
    /// `markerType` 1..320.
    Marker,
    /// `policyVersionIdType` `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`.
    PolicyVersionId,
    /// `clientIDType` 1..255.
    ClientId,
    /// `thumbprintType` exactly 40.
    Thumbprint,
    /// `OpenIDConnectProviderUrlType` 1..255.
    OidcUrl,
    /// `clientTokenType` (web identity token) 4..20000; its value is never echoed.
    WebIdentityToken,
}

/// Characters of `[\w+=,.@-]`.
fn word_plus(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// Approximates `[\p{L}\p{Z}\p{N}_.:/=+\-@]` with Rust's Unicode tables.
fn tag_char(c: char) -> bool {
    c.is_alphabetic() || c.is_numeric() || is_separator(c) || "_.:/=+-@".contains(c)
}

/// Unicode category Z (space, line and paragraph separators).
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// `[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]`.
fn arn_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn latin1_text(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{FF}')
}

fn is_role_path(value: &str) -> bool {
    value == "/"
        || (value.len() >= 3
            && value.starts_with('/')
            && value.ends_with('/')
            && value.chars().all(|c| ('!'..='~').contains(&c)))
}

fn is_policy_path(value: &str) -> bool {
    let Some(inner) = value.strip_suffix('/') else {
        return false;
    };
    inner.is_empty()
        || inner.strip_prefix('/').is_some_and(|segments| {
            segments.split('/').all(|segment| {
                !segment.is_empty()
                    && segment
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".,+@=_-".contains(c))
            })
        })
}

fn is_policy_version_id(value: &str) -> bool {
    let Some(rest) = value.strip_prefix('v') else {
        return false;
    };
    let (number, suffix) = rest.split_once('.').unwrap_or((rest, ""));
    number.starts_with(|c: char| ('1'..='9').contains(&c))
        && number.bytes().all(|b| b.is_ascii_digit())
        && suffix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl MemberType {
    /// Length bounds in UTF-16 code units (how AWS counts).
    pub fn length(self) -> (usize, Option<usize>) {
        match self {
            Self::RoleSessionName => (2, Some(64)),
            Self::AccessKeyId => (16, Some(128)),
            Self::RoleName | Self::UserName => (1, Some(64)),
            Self::ExistingUserName | Self::GroupName => (1, Some(128)),
            Self::PolicyName | Self::TagKey => (1, Some(128)),
            Self::Path | Self::PathPrefix | Self::PolicyPath => (1, Some(512)),
            Self::Arn => (20, Some(2048)),
            Self::PolicyDocument => (1, Some(131_072)),
            Self::SessionPolicy => (1, Some(2048)),
            Self::TagValue => (0, Some(256)),
            Self::ExternalId => (2, Some(1224)),
            Self::SourceIdentity => (2, Some(64)),
            Self::RoleDescription => (0, Some(1000)),
            Self::Marker => (1, Some(320)),
            Self::PolicyVersionId => (0, None),
            Self::ClientId | Self::OidcUrl => (1, Some(255)),
            Self::Thumbprint => (40, Some(40)),
            Self::WebIdentityToken => (4, Some(20_000)),
            Self::EncodedMessage => (1, Some(10_240)),
            Self::SerialNumber => (9, Some(256)),
            Self::TokenCode => (6, Some(6)),
        }
    }

    /// The pattern as AWS prints it, if the type has one.
    pub fn pattern(self) -> Option<&'static str> {
        Some(match self {
            Self::RoleSessionName | Self::SourceIdentity => r"[\w+=,.@-]*",
            Self::AccessKeyId => r"[\w]*",
            Self::RoleName
            | Self::PolicyName
            | Self::UserName
            | Self::ExistingUserName
            | Self::GroupName => r"[\w+=,.@-]+",
            Self::Path => r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
            Self::PathPrefix => r"\u002F[\u0021-\u007F]*",
            Self::PolicyPath => r"((/[A-Za-z0-9\.,\+@=_-]+)*)/",
            Self::Arn => {
                r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+"
            }
            Self::PolicyDocument | Self::SessionPolicy => r"[\u0009\u000A\u000D\u0020-\u00FF]+",
            Self::TagKey => r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+",
            Self::TagValue => r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*",
            Self::ExternalId => r"[\w+=,.@:\/-]*",
            Self::SerialNumber => r"[\w+=/:,.@-]*",
            Self::TokenCode => r"[\d]*",
            Self::RoleDescription => r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*",
            Self::Marker => r"[\u0020-\u00FF]+",
            Self::PolicyVersionId => r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?",
            Self::ClientId
            | Self::Thumbprint
            | Self::OidcUrl
            | Self::WebIdentityToken
            | Self::EncodedMessage => {
                return None;
            }
        })
    }

    /// Whether `value` matches [`MemberType::pattern`] (true when there is none).
    pub fn matches_pattern(self, value: &str) -> bool {
        match self {
            Self::RoleSessionName
            | Self::SourceIdentity
            | Self::RoleName
            | Self::PolicyName
            | Self::UserName
            | Self::ExistingUserName
            | Self::GroupName => value.chars().all(word_plus),
            Self::AccessKeyId => value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            Self::Path => is_role_path(value),
            Self::PathPrefix => {
                value.starts_with('/') && value.chars().all(|c| ('!'..='\u{7F}').contains(&c))
            }
            Self::PolicyPath => is_policy_path(value),
            Self::Arn => value.chars().all(arn_char),
            Self::PolicyDocument | Self::SessionPolicy => value.chars().all(latin1_text),
            Self::TagKey | Self::TagValue => value.chars().all(tag_char),
            Self::ExternalId | Self::SerialNumber => {
                value.chars().all(|c| word_plus(c) || c == ':' || c == '/')
            }
            Self::TokenCode => value.chars().all(|c| c.is_ascii_digit()),
            Self::RoleDescription => value
                .chars()
                .all(|c| matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{A1}'..='\u{FF}')),
            Self::Marker => value.chars().all(|c| (' '..='\u{FF}').contains(&c)),
            Self::PolicyVersionId => is_policy_version_id(value),
            Self::ClientId
            | Self::Thumbprint
            | Self::OidcUrl
            | Self::WebIdentityToken
            | Self::EncodedMessage => true,
        }
    }

    /// Whether `value` is within the type's length bounds and matches its pattern: what
    /// [`Validation::check`] lets pass, for values that arrive inside another document.
    pub fn accepts(self, value: &str) -> bool {
        let length = value.encode_utf16().count();
        let (min, max) = self.length();
        length >= min && max.is_none_or(|max| length <= max) && self.matches_pattern(value)
    }

    fn is_sensitive(self) -> bool {
        self == Self::WebIdentityToken
    }
}

/// Collects constraint violations and turns them into one AWS `ValidationError`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Validation {
    violations: Vec<String>,
}

impl Validation {
    /// No violations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation of `member` (wire name) by `value` (`None` prints `null`).
    pub fn violation(&mut self, member: &str, value: Option<&str>, constraint: &str) -> &mut Self {
        let value = match value {
            Some(value) => format!("Value '{value}'"),
            None => "Value null".to_owned(),
        };
        self.violations.push(format!(
            "{value} at '{}' failed to satisfy constraint: {constraint}",
            member_path(member)
        ));
        self
    }

    /// Checks that a required member is present.
    pub fn require(&mut self, member: &str, value: Option<&str>) -> &mut Self {
        if value.is_none() {
            self.violation(member, None, "Member must not be null");
        }
        self
    }

    /// Checks the length and pattern of `value` (if present) against `member_type`.
    pub fn check(
        &mut self,
        member: &str,
        value: Option<&str>,
        member_type: MemberType,
    ) -> &mut Self {
        let Some(value) = value else {
            return self;
        };
        let shown = (!member_type.is_sensitive()).then_some(value);
        let length = value.encode_utf16().count();
        let (min, max) = member_type.length();
        if length < min {
            self.violation_shown(
                member,
                shown,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
        if let Some(max) = max
            && length > max
        {
            self.violation_shown(
                member,
                shown,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
        if let Some(pattern) = member_type.pattern()
            && !member_type.matches_pattern(value)
        {
            self.violation_shown(
                member,
                shown,
                &format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
        self
    }

    /// Checks `min <= value <= max` for a present integer member.
    pub fn check_range(
        &mut self,
        member: &str,
        value: Option<i64>,
        min: i64,
        max: i64,
    ) -> &mut Self {
        let Some(value) = value else {
            return self;
        };
        let shown = value.to_string();
        if value < min {
            self.violation(
                member,
                Some(&shown),
                &format!("Member must have value greater than or equal to {min}"),
            );
        }
        if value > max {
            self.violation(
                member,
                Some(&shown),
                &format!("Member must have value less than or equal to {max}"),
            );
        }
        self
    }

    /// Checks that a present list has at most `max` members.
    pub fn check_list_len<T>(&mut self, member: &str, list: Option<&[T]>, max: usize) -> &mut Self {
        if let Some(list) = list
            && list.len() > max
        {
            self.violations.push(format!(
                "Value at '{}' failed to satisfy constraint: Member must have length less than or equal to {max}",
                member_path(member)
            ));
        }
        self
    }

    /// Sensitive members are reported without their value.
    fn violation_shown(&mut self, member: &str, value: Option<&str>, constraint: &str) {
        match value {
            Some(_) => {
                self.violation(member, value, constraint);
            }
            None => self.violations.push(format!(
                "Value at '{}' failed to satisfy constraint: {constraint}",
                member_path(member)
            )),
        }
    }

    /// True when nothing was violated.
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// `Ok` or a `ValidationError` listing every violation.
    ///
    /// Message shape: `1 validation error detected: <violation>` or
    /// `N validation errors detected: <violation>; <violation>`.
    pub fn finish(&self) -> Result<(), AwsError> {
        if self.is_ok() {
            Ok(())
        } else {
            Err(self.to_error())
        }
    }

    fn to_error(&self) -> AwsError {
        let count = self.violations.len();
        let noun = if count == 1 { "error" } else { "errors" };
        AwsError::validation_error(format!(
            "{count} validation {noun} detected: {}",
            self.violations.join("; ")
        ))
    }
}

/// A `ValidationError` with exactly one violation.
pub(crate) fn single_violation(member: &str, value: Option<&str>, constraint: &str) -> AwsError {
    let mut validation = Validation::new();
    validation.violation(member, value, constraint);
    validation.to_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(validation: &Validation) -> String {
        validation.finish().unwrap_err().message
    }

    #[test]
    fn member_paths() {
        assert_eq!(member_path("DurationSeconds"), "durationSeconds");
        assert_eq!(member_path("Tags.member.1.Key"), "tags.1.member.key");
        assert_eq!(
            member_path("PolicyArns.member.2.arn"),
            "policyArns.2.member.arn"
        );
        assert_eq!(
            member_path("ClientIDList.member.3"),
            "clientIDList.3.member"
        );
        assert_eq!(member_path("member"), "member");
    }

    #[test]
    fn duration_below_minimum_matches_sts_message() {
        let mut v = Validation::new();
        v.check_range("DurationSeconds", Some(5), 900, 43_200);
        let error = v.finish().unwrap_err();
        assert_eq!(error.code, "ValidationError");
        assert_eq!(error.status, 400);
        assert_eq!(
            error.message,
            "1 validation error detected: Value '5' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        );
        let mut v = Validation::new();
        v.check_range("DurationSeconds", Some(43_201), 900, 43_200);
        assert!(message(&v).ends_with("Member must have value less than or equal to 43200"));
        let mut ok = Validation::new();
        ok.check_range("DurationSeconds", Some(900), 900, 43_200)
            .check_range("DurationSeconds", None, 900, 43_200);
        assert_eq!(ok.finish(), Ok(()));
    }

    #[test]
    fn role_session_name_length_and_pattern() {
        let mut v = Validation::new();
        v.check("RoleSessionName", Some("a"), MemberType::RoleSessionName);
        assert_eq!(
            message(&v),
            "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"
        );
        let mut v = Validation::new();
        v.check("RoleSessionName", Some("a b!"), MemberType::RoleSessionName);
        assert_eq!(
            message(&v),
            r"1 validation error detected: Value 'a b!' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        );
        let long = "x".repeat(65);
        let mut v = Validation::new();
        v.check("RoleSessionName", Some(&long), MemberType::RoleSessionName)
            .check(
                "RoleSessionName",
                Some("ok_+=,.@-Name9"),
                MemberType::RoleSessionName,
            );
        assert!(message(&v).ends_with("Member must have length less than or equal to 64"));
    }

    #[test]
    fn several_violations_are_joined() {
        let mut v = Validation::new();
        v.require("RoleArn", None)
            .check("RoleSessionName", Some("!"), MemberType::RoleSessionName);
        assert_eq!(
            message(&v),
            r"3 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; Value '!' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; Value '!' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        );
    }

    #[test]
    fn sensitive_values_are_not_echoed() {
        let mut v = Validation::new();
        v.check(
            "WebIdentityToken",
            Some("abc"),
            MemberType::WebIdentityToken,
        );
        assert_eq!(
            message(&v),
            "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"
        );
    }

    #[test]
    fn list_length_limit() {
        let arns = vec!["a"; 11];
        let mut v = Validation::new();
        v.check_list_len("PolicyArns", Some(&arns), 10);
        assert_eq!(
            message(&v),
            "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10"
        );
        let mut ok = Validation::new();
        ok.check_list_len("PolicyArns", Some(&arns[..10]), 10)
            .check_list_len::<&str>("PolicyArns", None, 10);
        assert!(ok.is_ok());
    }

    #[test]
    fn patterns() {
        use MemberType::*;
        let cases: &[(MemberType, &str, bool)] = &[
            (RoleName, "my-role_1+=,.@", true),
            (RoleName, "my role", false),
            (Path, "/", true),
            (Path, "/app/", true),
            (Path, "/a/b/", true),
            (Path, "//", false),
            (Path, "app/", false),
            (Path, "/app", false),
            (Path, "/a b/", false),
            (PathPrefix, "/", true),
            (PathPrefix, "/app", true),
            (PathPrefix, "app", false),
            (PolicyPath, "/", true),
            (PolicyPath, "/team-a/sub/", true),
            (PolicyPath, "//", false),
            (PolicyPath, "/a*/", false),
            (PolicyPath, "/a", false),
            (TagKey, "team:é/x=1+2@-_.", true),
            (TagKey, "tab\tkey", false),
            (TagValue, "", true),
            (TagValue, "a b", true),
            (TagValue, "a*b", false),
            (Arn, "arn:aws:iam::111122223333:role/r", true),
            (Arn, "arn\u{1}", false),
            (PolicyDocument, "{\"V\":\"é\"}\n", true),
            (PolicyDocument, "{\"V\":\"\u{20AC}\"}", false),
            (ExternalId, "ext:id/1", true),
            (AccessKeyId, "AKIAIOSFODNN7EXAMPLE", true),
            (AccessKeyId, "AKIA-IOSFODNN7EXAMPLE", false),
            (ExternalId, "ext id", false),
            (RoleDescription, "Role for app \u{A9}", true),
            (RoleDescription, "bad \u{7F}", false),
            (PolicyVersionId, "v1", true),
            (PolicyVersionId, "v12.beta-1", true),
            (PolicyVersionId, "v0", false),
            (PolicyVersionId, "1", false),
            (PolicyVersionId, "v", false),
            (Marker, "m2", true),
            (ClientId, "anything goes", true),
        ];
        for (member_type, value, expected) in cases {
            assert_eq!(
                member_type.matches_pattern(value),
                *expected,
                "{member_type:?} {value:?}"
            );
        }
    }

    #[test]
    fn lengths_count_utf16_units() {
        let mut v = Validation::new();
        // Two supplementary characters are four UTF-16 units: long enough for 4..20000.
        v.check(
            "WebIdentityToken",
            Some("\u{1F600}\u{1F600}"),
            MemberType::WebIdentityToken,
        );
        assert!(v.is_ok());
        let thumbprint = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
        v.check(
            "ThumbprintList.member.1",
            Some(thumbprint),
            MemberType::Thumbprint,
        )
        .check(
            "ThumbprintList.member.2",
            Some(&thumbprint[1..]),
            MemberType::Thumbprint,
        );
        assert_eq!(
            message(&v),
            "1 validation error detected: Value 'e99a48a9960b14926bb7f3b02e22da2b0ab7280' at 'thumbprintList.2.member' failed to satisfy constraint: Member must have length greater than or equal to 40"
        );
    }
}
