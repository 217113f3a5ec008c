//! Negative tests: every validation error, with IAM's exact `MalformedPolicyDocument` message.

use podpass_policy::{Policy, PolicyError, PolicyKind};

fn error(source: &str, kind: PolicyKind) -> String {
    match Policy::parse(source, kind) {
        Ok(_) => panic!("accepted: {source}"),
        Err(e) => e.message(),
    }
}

fn identity(statement: &str) -> String {
    error(
        &format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#),
        PolicyKind::Identity,
    )
}

fn trust(statement: &str) -> String {
    error(
        &format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#),
        PolicyKind::Trust,
    )
}

#[test]
fn syntax_errors() {
    for bad in [
        "",
        "not json",
        "[]",
        r#"{"Version":"2012-10-17","Statement":"x"}"#,
        r#"{"Version":"2012-10-17","Statement":[]}"#,
        r#"{"Version":"2012-10-17","Statement":["x"]}"#,
        r#"{"Version":17,"Statement":{}}"#,
        r#"{"Version":"2012-10-17","Id":1,"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    ] {
        assert_eq!(
            error(bad, PolicyKind::Identity),
            "Syntax errors in policy.",
            "{bad}"
        );
    }
    assert_eq!(
        identity(r#"{"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}"#),
        "Syntax errors in policy."
    );
    assert_eq!(
        identity(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"*"}"#),
        "Syntax errors in policy."
    );
    assert_eq!(
        identity(r#"{"Effect":"Allow","Action":[1],"Resource":"*"}"#),
        "Syntax errors in policy."
    );
    assert_eq!(
        identity(r#"{"Effect":1,"Action":"s3:*","Resource":"*"}"#),
        "Syntax errors in policy."
    );
    assert_eq!(
        identity(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":"x"}"#),
        "Syntax errors in policy."
    );
    assert_eq!(
        identity(
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":"x"}}"#
        ),
        "Syntax errors in policy."
    );
    assert_eq!(
        identity(
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:x":{"a":1}}}}"#
        ),
        "Syntax errors in policy."
    );
    assert_eq!(
        trust(r#"{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"sts:AssumeRole"}"#),
        "Syntax errors in policy."
    );
}

#[test]
fn version_and_unknown_fields() {
    assert_eq!(
        error(
            r#"{"Version":"2012-10-18","Statement":{}}"#,
            PolicyKind::Identity
        ),
        "The policy failed legacy parsing"
    );
    assert_eq!(
        error(
            r#"{"Version":"2012-10-17","Foo":1,"Statement":[]}"#,
            PolicyKind::Identity
        ),
        "Unknown field Foo"
    );
    assert_eq!(
        identity(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Foo":"x"}"#),
        "Unknown field Foo"
    );
    assert_eq!(
        error(r#"{"Version":"2012-10-17"}"#, PolicyKind::Identity),
        "Missing required field Statement"
    );
}

#[test]
fn effect_errors() {
    assert_eq!(
        identity(r#"{"Action":"s3:*","Resource":"*"}"#),
        "Missing required field Effect"
    );
    assert_eq!(
        identity(r#"{"Effect":"allow","Action":"s3:*","Resource":"*"}"#),
        "Invalid effect: allow"
    );
}

#[test]
fn action_errors() {
    assert_eq!(
        identity(r#"{"Effect":"Allow","Resource":"*"}"#),
        "Policy statement must contain actions."
    );
    assert_eq!(
        identity(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#),
        "Policy statement must contain actions."
    );
    let vendor = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
    assert_eq!(
        identity(r#"{"Effect":"Allow","Action":"GetObject","Resource":"*"}"#),
        vendor
    );
    assert_eq!(
        identity(r#"{"Effect":"Allow","Action":":GetObject","Resource":"*"}"#),
        vendor
    );
    assert_eq!(
        identity(
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"nokey":"x"}}}"#
        ),
        vendor
    );
}

#[test]
fn resource_errors() {
    assert_eq!(
        identity(r#"{"Effect":"Allow","Action":"s3:*"}"#),
        "Policy document must contain resources."
    );
    assert_eq!(
        identity(r#"{"Effect":"Allow","Action":"s3:*","Resource":[]}"#),
        "Policy document must contain resources."
    );
    assert_eq!(
        error(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*"}}"#,
            PolicyKind::Resource
        ),
        "Policy document must contain resources."
    );
    assert_eq!(
        identity(r#"{"Effect":"Allow","Action":"s3:*","Resource":"my-bucket"}"#),
        r#"Resource my-bucket must be in ARN format or "*"."#
    );
    // Trust policies may omit Resource.
    assert!(
        Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}}"#,
            PolicyKind::Trust
        )
        .is_ok()
    );
}

#[test]
fn principal_errors() {
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Session,
        PolicyKind::Boundary,
    ] {
        let source = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#;
        assert_eq!(
            error(source, kind),
            "Policy document should not specify a principal."
        );
    }
    assert_eq!(
        trust(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#),
        "Missing required field Principal"
    );
    assert_eq!(
        trust(r#"{"Effect":"Allow","Principal":{"AWS":"bad"},"Action":"sts:AssumeRole"}"#),
        r#"Invalid principal in policy: "AWS":"bad""#
    );
    assert_eq!(
        trust(
            r#"{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::1:role/x"]},"Action":"sts:AssumeRole"}"#
        ),
        r#"Invalid principal in policy: "AWS":"arn:aws:iam::1:role/x""#
    );
    assert_eq!(
        trust(r#"{"Effect":"Allow","Principal":{"Foo":"x"},"Action":"sts:AssumeRole"}"#),
        r#"Invalid principal in policy: "Foo":"x""#
    );
    assert_eq!(
        trust(r#"{"Effect":"Allow","Principal":{"Federated":""},"Action":"sts:AssumeRole"}"#),
        r#"Invalid principal in policy: "Federated":"""#
    );
    assert_eq!(
        trust(r#"{"Effect":"Allow","Principal":"someone","Action":"sts:AssumeRole"}"#),
        r#"Invalid principal in policy: "someone""#
    );
    assert_eq!(
        trust(r#"{"Effect":"Allow","Principal":{"AWS":[]},"Action":"sts:AssumeRole"}"#),
        r#"Invalid principal in policy: "AWS":[]"#
    );
}

#[test]
fn condition_errors() {
    let with = |condition: &str| {
        identity(&format!(
            r#"{{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{condition}}}"#
        ))
    };
    assert_eq!(
        with(r#"{"StringEqualz":{"aws:x":"a"}}"#),
        "Invalid Condition type : StringEqualz"
    );
    assert_eq!(
        with(r#"{"NullIfExists":{"aws:x":"true"}}"#),
        "Invalid Condition type : NullIfExists"
    );
    assert_eq!(
        with(r#"{"ForSomeValues:StringEquals":{"aws:x":"a"}}"#),
        "Invalid Condition type : ForSomeValues:StringEquals"
    );
    for (operator, value) in [
        ("NumericLessThan", "ten"),
        ("DateGreaterThan", "tomorrow"),
        ("Bool", "yes"),
        ("IpAddress", "10.0.0.0/33"),
        ("NotIpAddress", "host"),
        ("Null", "maybe"),
    ] {
        assert_eq!(
            with(&format!(r#"{{"{operator}":{{"aws:x":"{value}"}}}}"#)),
            format!(r#"Invalid value for condition operator {operator}: "{value}""#)
        );
    }
}

#[test]
fn sid_errors() {
    let two = |a: &str, b: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{a}","Effect":"Allow","Action":"s3:*","Resource":"*"}},{{"Sid":"{b}","Effect":"Deny","Action":"s3:*","Resource":"*"}}]}}"#
        )
    };
    assert_eq!(
        error(&two("A1", "A1"), PolicyKind::Identity),
        "Statement IDs (SID) in a single policy must be unique."
    );
    assert_eq!(
        error(&two("has space", "b"), PolicyKind::Identity),
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
    );
    // Resource (bucket) policies accept free-form Sids, still unique.
    let bucket = |a: &str, b: &str| two(a, b).replace(r#""Effect""#, r#""Principal":"*","Effect""#);
    assert!(Policy::parse(&bucket("Public read", "b"), PolicyKind::Resource).is_ok());
    assert_eq!(
        Policy::parse(&bucket("x y", "x y"), PolicyKind::Resource),
        Err(PolicyError::DuplicateSid)
    );
}

#[test]
fn accepts_documented_forms() {
    let ok = |source: &str, kind| Policy::parse(source, kind).unwrap();
    let p = ok(
        r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
        PolicyKind::Identity,
    );
    assert_eq!(p.version(), None);
    assert_eq!(p.statements().len(), 1);
    let p = ok(
        r#"{"Version":"2012-10-17","Id":"P1","Statement":[{"Sid":"","Effect":"Deny","NotAction":["iam:*"],"NotResource":"*","Condition":{"ForAllValues:StringLikeIfExists":{"aws:TagKeys":["a*",1,true]}}}]}"#,
        PolicyKind::Session,
    );
    assert_eq!(p.id(), Some("P1"));
    assert_eq!(p.kind(), PolicyKind::Session);
    let clause = &p.statements()[0].conditions[0];
    assert_eq!(clause.values().collect::<Vec<_>>(), ["a*", "1", "true"]);
    assert_eq!(clause.operator_text(), "ForAllValues:StringLikeIfExists");
}

#[test]
fn duplicate_keys_are_malformed_at_every_level() {
    let cases = [
        // Top level.
        (
            r#"{"Version":"2012-10-17","Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
            PolicyKind::Identity,
            "Version",
        ),
        // A statement: last-wins would make this Deny an Allow.
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            PolicyKind::Identity,
            "Effect",
        ),
        // A condition operator, and a key within one.
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/t":"a"},"StringEquals":{"aws:PrincipalTag/t":"b"}}}]}"#,
            PolicyKind::Identity,
            "StringEquals",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"1","aws:SourceAccount":"2"}}}]}"#,
            PolicyKind::Identity,
            "aws:SourceAccount",
        ),
        // A principal map.
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root","AWS":"*"},"Action":"sts:AssumeRole"}]}"#,
            PolicyKind::Trust,
            "AWS",
        ),
    ];
    for (source, kind, key) in cases {
        assert_eq!(
            Policy::parse(source, kind),
            Err(PolicyError::DuplicateKey(key.to_owned())),
            "{source}"
        );
        assert_eq!(error(source, kind), "Syntax errors in policy.");
    }
}
