//! Bodies botocore 1.44.8 sent (aws-contracts.md §6), parsed with `QueryParams`.

use podpass_awsproto::{MemberType, QueryParams, Validation};

#[test]
fn assume_role_with_web_identity() {
    let params = QueryParams::parse(b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fmy-role&RoleSessionName=s1&WebIdentityToken=eyJ.a.b&DurationSeconds=3600&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess");
    assert_eq!(params.action(), Some("AssumeRoleWithWebIdentity"));
    assert_eq!(params.version(), Some("2011-06-15"));
    assert_eq!(
        params.required("RoleArn"),
        Ok("arn:aws:iam::111122223333:role/my-role")
    );
    assert_eq!(params.required("RoleSessionName"), Ok("s1"));
    assert_eq!(params.required("WebIdentityToken"), Ok("eyJ.a.b"));
    assert_eq!(
        params.i64_in_range("DurationSeconds", 900, 43_200),
        Ok(Some(3600))
    );
    let arns: Vec<&str> = params
        .structs("PolicyArns")
        .unwrap()
        .iter()
        .filter_map(|m| m.get("arn"))
        .collect();
    assert_eq!(arns, vec!["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
    assert_eq!(params.get("Policy"), None);

    let mut validation = Validation::new();
    validation
        .check("RoleArn", params.get("RoleArn"), MemberType::Arn)
        .check(
            "RoleSessionName",
            params.get("RoleSessionName"),
            MemberType::RoleSessionName,
        )
        .check(
            "WebIdentityToken",
            params.get("WebIdentityToken"),
            MemberType::WebIdentityToken,
        );
    assert_eq!(validation.finish(), Ok(()));
}

#[test]
fn assume_role_with_tags_and_policy() {
    let params = QueryParams::parse(b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr&RoleSessionName=sess&Tags.member.1.Key=k1&Tags.member.1.Value=v1&Tags.member.2.Key=k2&Tags.member.2.Value=v2&TransitiveTagKeys.member.1=k1&ExternalId=ext&Policy=%7B%22Version%22%3A%222012-10-17%22%7D");
    let tags: Vec<(&str, &str)> = params
        .structs("Tags")
        .unwrap()
        .iter()
        .map(|t| (t.required("Key").unwrap(), t.required("Value").unwrap()))
        .collect();
    assert_eq!(tags, vec![("k1", "v1"), ("k2", "v2")]);
    assert_eq!(params.list("TransitiveTagKeys"), Some(vec!["k1"]));
    assert_eq!(params.get("ExternalId"), Some("ext"));
    assert_eq!(params.get("Policy"), Some(r#"{"Version":"2012-10-17"}"#));
    assert_eq!(params.i64("DurationSeconds"), Ok(None));
}

#[test]
fn get_caller_identity() {
    let params = QueryParams::parse(b"Action=GetCallerIdentity&Version=2011-06-15");
    assert_eq!(params.action(), Some("GetCallerIdentity"));
    assert_eq!(params.len(), 2);
}

#[test]
fn iam_create_role() {
    let params = QueryParams::parse(b"Action=CreateRole&Version=2010-05-08&RoleName=r&Path=%2Fapp%2F&AssumeRolePolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D&MaxSessionDuration=7200&PermissionsBoundary=arn%3Aaws%3Aiam%3A%3A111122223333%3Apolicy%2Fb&Tags.member.1.Key=team&Tags.member.1.Value=x");
    assert_eq!(params.version(), Some("2010-05-08"));
    assert_eq!(params.get("Path"), Some("/app/"));
    assert_eq!(
        params.get("AssumeRolePolicyDocument"),
        Some(r#"{"Version":"2012-10-17","Statement":[]}"#)
    );
    assert_eq!(
        params.i64_in_range("MaxSessionDuration", 3600, 43_200),
        Ok(Some(7200))
    );
    assert_eq!(
        params.get("PermissionsBoundary"),
        Some("arn:aws:iam::111122223333:policy/b")
    );
    let tags = params.structs("Tags").unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(
        (tags[0].get("Key"), tags[0].get("Value")),
        (Some("team"), Some("x"))
    );
    let mut validation = Validation::new();
    validation
        .check("RoleName", params.get("RoleName"), MemberType::RoleName)
        .check("Path", params.get("Path"), MemberType::Path)
        .check(
            "AssumeRolePolicyDocument",
            params.get("AssumeRolePolicyDocument"),
            MemberType::PolicyDocument,
        )
        .check("Tags.member.1.Key", tags[0].get("Key"), MemberType::TagKey)
        .check(
            "Tags.member.1.Value",
            tags[0].get("Value"),
            MemberType::TagValue,
        );
    assert_eq!(validation.finish(), Ok(()));
}

#[test]
fn iam_list_roles_and_put_role_policy() {
    let list =
        QueryParams::parse(b"Action=ListRoles&Version=2010-05-08&PathPrefix=%2Fapp%2F&MaxItems=10");
    assert_eq!(list.get("PathPrefix"), Some("/app/"));
    assert_eq!(list.i64_in_range("MaxItems", 1, 1000), Ok(Some(10)));
    assert_eq!(list.get("Marker"), None);

    let put = QueryParams::parse(b"Action=PutRolePolicy&Version=2010-05-08&RoleName=r&PolicyName=p&PolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D");
    assert_eq!(
        put.required("PolicyDocument"),
        Ok(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#
        )
    );
}

#[test]
fn iam_create_open_id_connect_provider() {
    let params = QueryParams::parse(b"Action=CreateOpenIDConnectProvider&Version=2010-05-08&Url=https%3A%2F%2Foidc.eks.us-west-2.amazonaws.com%2Fid%2FABC&ClientIDList.member.1=sts.amazonaws.com&ThumbprintList.member.1=9e99a48a9960b14926bb7f3b02e22da2b0ab7280&Tags.member.1.Key=a&Tags.member.1.Value=b");
    assert_eq!(
        params.get("Url"),
        Some("https://oidc.eks.us-west-2.amazonaws.com/id/ABC")
    );
    assert_eq!(params.list("ClientIDList"), Some(vec!["sts.amazonaws.com"]));
    assert_eq!(
        params.list("ThumbprintList"),
        Some(vec!["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    );
}

#[test]
fn iam_simulate_principal_policy() {
    let params = QueryParams::parse(b"Action=SimulatePrincipalPolicy&Version=2010-05-08&PolicySourceArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr&ActionNames.member.1=s3%3AGetObject&ResourceArns.member.1=arn%3Aaws%3As3%3A%3A%3Ab%2Fk&ContextEntries.member.1.ContextKeyName=aws%3ASourceIp&ContextEntries.member.1.ContextKeyValues.member.1=10.0.0.1&ContextEntries.member.1.ContextKeyType=ip");
    assert_eq!(params.list("ActionNames"), Some(vec!["s3:GetObject"]));
    assert_eq!(params.list("ResourceArns"), Some(vec!["arn:aws:s3:::b/k"]));
    let entries = params.structs("ContextEntries").unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].get("ContextKeyName"), Some("aws:SourceIp"));
    assert_eq!(entries[0].list("ContextKeyValues"), Some(vec!["10.0.0.1"]));
    assert_eq!(entries[0].get("ContextKeyType"), Some("ip"));
}

#[test]
fn get_query_string_parses_like_a_body() {
    let params = QueryParams::parse(b"Action=GetRole&Version=2010-05-08&RoleName=nope");
    assert_eq!(params.required("RoleName"), Ok("nope"));
    assert_eq!(
        params.required("PolicyName").unwrap_err().message,
        "1 validation error detected: Value null at 'policyName' failed to satisfy constraint: Member must not be null"
    );
}
