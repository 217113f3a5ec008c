//! Golden query-protocol responses, checked byte for byte and parsed back.

use jiff::Timestamp;
use podpass_awsproto::{AwsError, NS_IAM, NS_STS, XmlResponse, encode_policy_document};
use quick_xml::Reader;
use quick_xml::events::Event;

const ASSUME_ROLE_WITH_WEB_IDENTITY: &str = concat!(
    r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">"#,
    "<AssumeRoleWithWebIdentityResult>",
    "<SubjectFromWebIdentityToken>system:serviceaccount:default:my-sa</SubjectFromWebIdentityToken>",
    "<Audience>sts.amazonaws.com</Audience>",
    "<AssumedRoleUser>",
    "<Arn>arn:aws:sts::111122223333:assumed-role/my-role/botocore-session-1700000000</Arn>",
    "<AssumedRoleId>AROAEXAMPLEID1234567:botocore-session-1700000000</AssumedRoleId>",
    "</AssumedRoleUser>",
    "<Credentials>",
    "<AccessKeyId>ASIAEXAMPLEEXAMPLE12</AccessKeyId>",
    "<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey>",
    "<SessionToken>FQoGZXIvYXdzEXAMPLE</SessionToken>",
    "<Expiration>2024-01-01T01:00:00Z</Expiration>",
    "</Credentials>",
    "<Provider>arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE</Provider>",
    "</AssumeRoleWithWebIdentityResult>",
    "<ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>",
    "</AssumeRoleWithWebIdentityResponse>"
);

/// Text content of every leaf element, as `(path, text)`, to prove the XML parses.
fn leaves(xml: &str) -> Vec<(String, String)> {
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(start) => {
                path.push(String::from_utf8(start.local_name().as_ref().to_vec()).unwrap());
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml10_content().unwrap()),
            Event::GeneralRef(r) => {
                let name = r.decode().unwrap();
                let resolved = match name.as_ref() {
                    "amp" => "&".to_owned(),
                    "lt" => "<".to_owned(),
                    "gt" => ">".to_owned(),
                    "quot" => "\"".to_owned(),
                    "apos" => "'".to_owned(),
                    other => r
                        .resolve_char_ref()
                        .unwrap()
                        .map(String::from)
                        .unwrap_or_else(|| panic!("unknown entity {other}")),
                };
                text.push_str(&resolved);
            }
            Event::End(_) => {
                if !text.is_empty() {
                    out.push((path.join("/"), std::mem::take(&mut text)));
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty(), "unbalanced XML");
    out
}

#[test]
fn assume_role_with_web_identity_result() {
    let expiration: Timestamp = "2024-01-01T01:00:00Z".parse().unwrap();
    let response = XmlResponse::new(
        "AssumeRoleWithWebIdentity",
        NS_STS,
        "ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE",
    )
    .result(|w| {
        w.elem(
            "SubjectFromWebIdentityToken",
            "system:serviceaccount:default:my-sa",
        )
        .elem("Audience", "sts.amazonaws.com");
        w.open("AssumedRoleUser")
            .elem(
                "Arn",
                "arn:aws:sts::111122223333:assumed-role/my-role/botocore-session-1700000000",
            )
            .elem(
                "AssumedRoleId",
                "AROAEXAMPLEID1234567:botocore-session-1700000000",
            )
            .close();
        w.nest("Credentials", |w| {
            w.elem("AccessKeyId", "ASIAEXAMPLEEXAMPLE12")
                .elem(
                    "SecretAccessKey",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                )
                .elem("SessionToken", "FQoGZXIvYXdzEXAMPLE")
                .timestamp("Expiration", expiration);
        });
        w.elem(
            "Provider",
            "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
        );
    });
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/xml"));
    assert_eq!(
        response.header("x-amzn-RequestId"),
        Some("ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE")
    );
    let body = response.body_text().unwrap();
    assert_eq!(body, ASSUME_ROLE_WITH_WEB_IDENTITY);
    let parsed = leaves(body);
    assert!(parsed.contains(&(
        "AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Credentials/Expiration".to_owned(),
        "2024-01-01T01:00:00Z".to_owned()
    )));
    assert!(parsed.contains(&(
        "AssumeRoleWithWebIdentityResponse/ResponseMetadata/RequestId".to_owned(),
        "ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE".to_owned()
    )));
}

#[test]
fn operation_without_result() {
    let response = XmlResponse::new("PutRolePolicy", NS_IAM, "rid-1").empty();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.body_text().unwrap(),
        r#"<PutRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata></PutRolePolicyResponse>"#
    );
}

#[test]
fn iam_list_with_members_and_encoded_policy() {
    let created: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
    let document = r#"{"Version":"2012-10-17","Statement":[]}"#;
    let response = XmlResponse::new("ListRoles", NS_IAM, "rid").result(|w| {
        w.list("Roles", ["r"], |w, name| {
            w.elem("Path", "/app/")
                .elem("RoleName", name)
                .elem("Arn", "arn:aws:iam::111122223333:role/app/r")
                .timestamp("CreateDate", created)
                .elem(
                    "AssumeRolePolicyDocument",
                    &encode_policy_document(document),
                )
                .int("MaxSessionDuration", 3600);
        });
        w.bool("IsTruncated", true).elem("Marker", "m2");
    });
    assert_eq!(
        response.body_text().unwrap(),
        concat!(
            r#"<ListRolesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListRolesResult>"#,
            "<Roles><member><Path>/app/</Path><RoleName>r</RoleName><Arn>arn:aws:iam::111122223333:role/app/r</Arn>",
            "<CreateDate>2024-01-01T00:00:00Z</CreateDate>",
            "<AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D</AssumeRolePolicyDocument>",
            "<MaxSessionDuration>3600</MaxSessionDuration></member></Roles>",
            "<IsTruncated>true</IsTruncated><Marker>m2</Marker>",
            "</ListRolesResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></ListRolesResponse>"
        )
    );
}

#[test]
fn error_response() {
    let response =
        AwsError::delete_conflict("Cannot delete entity, must detach all policies first.")
            .render_query(NS_IAM, "rid");
    assert_eq!(response.status, 409);
    assert_eq!(
        response.body_text().unwrap(),
        concat!(
            r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>"#,
            "<Code>DeleteConflict</Code><Message>Cannot delete entity, must detach all policies first.</Message>",
            "</Error><RequestId>rid</RequestId></ErrorResponse>"
        )
    );
}

#[test]
fn hostile_text_is_escaped_and_round_trips() {
    let hostile = "</Arn><Injected>&amp;\"'\r\n\ttext\u{e9}";
    let response = XmlResponse::new("GetRole", NS_IAM, "r&<id>").result(|w| {
        w.nest("Role", |w| {
            w.elem("Description", hostile);
        });
    });
    let body = response.body_text().unwrap();
    assert!(!body.contains("<Injected>"));
    let parsed = leaves(body);
    assert_eq!(
        parsed,
        vec![
            (
                "GetRoleResponse/GetRoleResult/Role/Description".to_owned(),
                hostile.to_owned()
            ),
            (
                "GetRoleResponse/ResponseMetadata/RequestId".to_owned(),
                "r&<id>".to_owned()
            ),
        ]
    );
    let error = AwsError::no_such_entity(hostile).render_query(NS_IAM, "r");
    let parsed = leaves(error.body_text().unwrap());
    assert!(parsed.contains(&("ErrorResponse/Error/Message".to_owned(), hostile.to_owned())));
}
