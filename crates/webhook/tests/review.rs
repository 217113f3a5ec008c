//! The AdmissionReview envelope, including the byte-exact cases of upstream handler_test.go.

// The mutation tests' helpers (pinned jitter, patch application, Go artefacts).
#[path = "../../podmutation/tests/common/mod.rs"]
mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{PinnedJitter, apply, normalise_go_artefacts};
use podpass_podmutation::{
    InjectionMethod, PodIdentityAssociations, ServiceAccountSettings, StaticResolver, WebhookConfig,
};
use podpass_webhook::{ReviewOutcome, Webhook};
use serde_json::{Value, json};

const UID: &str = "918ef1dc-928f-4525-99ef-988389f263c3";
const ROLE: &str = "arn:aws:iam::111122223333:role/s3-reader";

fn webhook() -> Webhook {
    Webhook::new(WebhookConfig::default(), Box::new(PinnedJitter(79200)))
}

/// The resolver of upstream TestModifierHandler: default/default with a role and 3600 s.
fn resolver() -> StaticResolver {
    let mut resolver = StaticResolver::default();
    resolver.service_accounts.insert(
        ("default".into(), "default".into()),
        ServiceAccountSettings {
            role_arn: Some(ROLE.into()),
            token_expiration: Some(3600),
            ..Default::default()
        },
    );
    resolver.service_accounts.insert(
        ("default".into(), "plain".into()),
        ServiceAccountSettings::default(),
    );
    resolver.pod_identities = PodIdentityAssociations::parse(
        br#"{"identities":[{"namespace":"pi","serviceAccount":"default"}]}"#,
    )
    .unwrap();
    resolver
}

fn raw_pod(service_account: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "balajilovesoreos", "uid": "be8695c4-4ad0-4038-8786-c508853aa255"},
        "spec": {"containers": [{"image": "amazonlinux", "name": "balajilovesoreos"}], "serviceAccountName": service_account}
    })
}

/// The request upstream's getValidReview builds, as Go serialises it.
fn review(type_meta: Option<(&str, &str)>, namespace: &str, service_account: &str) -> Vec<u8> {
    let mut review = json!({
        "request": {
            "uid": UID,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "", "resource": ""},
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {
                "username": "kubernetes-admin",
                "uid": "aws-iam-authenticator:111122223333:AROAR2TG44V5CLZCFPOQZ",
                "groups": ["system:authenticated", "system:masters"]
            },
            "object": raw_pod(service_account),
            "oldObject": null,
            "options": null
        }
    });
    if let Some((api_version, kind)) = type_meta {
        review["apiVersion"] = api_version.into();
        review["kind"] = kind.into();
    }
    serde_json::to_vec(&review).unwrap()
}

fn call(content_type: Option<&str>, body: &[u8]) -> ReviewOutcome {
    webhook().handle(content_type, body, &resolver())
}

fn json_call(body: &[u8]) -> String {
    let outcome = call(Some("application/json"), body);
    assert_eq!(outcome.status, 200);
    assert_eq!(outcome.content_type, "application/json");
    String::from_utf8(outcome.body).unwrap()
}

#[test]
fn wrong_content_type_is_415() {
    for content_type in [
        Some("application/xml"),
        Some("application/json; charset=utf-8"),
        Some("APPLICATION/JSON"),
        None,
    ] {
        let outcome = call(content_type, &review(None, "default", "default"));
        assert_eq!(outcome.status, 415, "{content_type:?}");
        assert_eq!(
            outcome.body,
            b"Invalid Content-Type, expected `application/json`\n"
        );
        assert_eq!(outcome.content_type, "text/plain; charset=utf-8");
        assert_eq!(outcome.method, None);
    }
}

#[test]
fn empty_body_and_missing_request_are_bad_content() {
    let bad = r#"{"response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"bad content"}}}"#;
    assert_eq!(json_call(b""), bad);
    assert_eq!(json_call(b"{}"), bad);
    assert_eq!(json_call(br#"{"request":null}"#), bad);
}

#[test]
fn missing_request_still_echoes_type_meta() {
    assert_eq!(
        json_call(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#),
        r#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"bad content"}}}"#
    );
}

#[test]
fn invalid_json_is_denied_with_go_message() {
    assert_eq!(
        json_call(br#"{"request": {"object": "\"metadata\":{\"name\":\"fake\""}"#),
        r#"{"response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"couldn't get version/kind; json parse error: unexpected end of JSON input"}}}"#
    );
}

#[test]
fn non_object_body_is_denied_with_go_message() {
    let body = json_call(b"[1]");
    let message: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        message["response"]["status"]["message"],
        "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }"
    );
    assert_eq!(message["response"]["allowed"], false);
}

#[test]
fn invalid_pod_bytes_are_denied_with_go_message() {
    assert_eq!(
        json_call(br#"{"request": {"object": "\"metadata\":{\"name\":\"fake\""}}"#),
        r#"{"response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"json: cannot unmarshal string into Go value of type v1.Pod"}}}"#
    );
}

#[test]
fn missing_object_is_denied_with_uid() {
    assert_eq!(
        json_call(br#"{"request": {"uid": "u1", "namespace": "default"}}"#),
        r#"{"response":{"uid":"u1","allowed":false,"status":{"metadata":{},"message":"unexpected end of JSON input"}}}"#
    );
}

#[test]
fn unregistered_type_is_denied() {
    let body = json_call(&review(
        Some(("admission.k8s.io/v2", "AdmissionReview")),
        "default",
        "default",
    ));
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response"]["allowed"], false);
    assert_eq!(
        answer["response"]["status"]["message"],
        r#"no kind "AdmissionReview" is registered for version "admission.k8s.io/v2""#
    );
}

/// upstream ValidRequestSuccessWithoutVolumes: no TypeMeta in, none out; patch with 3600 s.
#[test]
fn valid_request_without_type_meta() {
    let outcome = call(
        Some("application/json"),
        &review(None, "default", "default"),
    );
    assert_eq!(outcome.method, Some(InjectionMethod::StsWebIdentity));
    let body: Value = serde_json::from_slice(&outcome.body).unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["response"]);
    let response = &body["response"];
    assert_eq!(response["uid"], UID);
    assert_eq!(response["allowed"], true);
    assert_eq!(response["patchType"], "JSONPatch");
    assert!(response.get("status").is_none());

    let patch_bytes = STANDARD
        .decode(response["patch"].as_str().unwrap())
        .unwrap();
    let ours: json_patch::Patch = serde_json::from_slice(&patch_bytes).unwrap();
    let upstream: json_patch::Patch = serde_json::from_str(r#"[{"op":"add","path":"/spec/volumes","value":[{"name":"aws-iam-token","projected":{"sources":[{"serviceAccountToken":{"audience":"sts.amazonaws.com","expirationSeconds":3600,"path":"token"}}]}}]},{"op":"add","path":"/spec/containers","value":[{"name":"balajilovesoreos","image":"amazonlinux","env":[{"name":"AWS_ROLE_ARN","value":"arn:aws:iam::111122223333:role/s3-reader"},{"name":"AWS_WEB_IDENTITY_TOKEN_FILE","value":"/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}],"resources":{},"volumeMounts":[{"name":"aws-iam-token","readOnly":true,"mountPath":"/var/run/secrets/eks.amazonaws.com/serviceaccount"}]}]}]"#).unwrap();
    let pod = raw_pod("default");
    let mut a = apply(&pod, &ours);
    let mut b = apply(&pod, &upstream);
    normalise_go_artefacts(&mut a);
    normalise_go_artefacts(&mut b);
    assert_eq!(a, b);
}

#[test]
fn type_meta_is_echoed_for_v1_and_v1beta1() {
    for api_version in ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] {
        let body = json_call(&review(
            Some((api_version, "AdmissionReview")),
            "default",
            "default",
        ));
        let prefix = format!(
            r#"{{"kind":"AdmissionReview","apiVersion":"{api_version}","response":{{"uid":"{UID}","allowed":true,"patch":""#
        );
        assert!(body.starts_with(&prefix), "{body}");
        assert!(body.ends_with(r#"","patchType":"JSONPatch"}}"#), "{body}");
    }
}

#[test]
fn no_identity_is_allowed_without_patch() {
    assert_eq!(
        json_call(&review(
            Some(("admission.k8s.io/v1", "AdmissionReview")),
            "default",
            "plain"
        )),
        format!(
            r#"{{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{{"uid":"{UID}","allowed":true}}}}"#
        )
    );
    // Unknown ServiceAccount, and a namespace where default has no role.
    let outcome = call(Some("application/json"), &review(None, "default", "nobody"));
    assert_eq!(outcome.method, None);
    assert_eq!(
        String::from_utf8(
            call(
                Some("application/json"),
                &review(None, "elsewhere", "default")
            )
            .body
        )
        .unwrap(),
        format!(r#"{{"response":{{"uid":"{UID}","allowed":true}}}}"#)
    );
}

#[test]
fn request_namespace_selects_pod_identity() {
    let outcome = call(Some("application/json"), &review(None, "pi", "default"));
    assert_eq!(outcome.method, Some(InjectionMethod::ContainerCredentials));
    let body: Value = serde_json::from_slice(&outcome.body).unwrap();
    let patch: Value = serde_json::from_slice(
        &STANDARD
            .decode(body["response"]["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        patch[0],
        json!({"op": "add", "path": "/metadata/labels", "value": {"eks.amazonaws.com/pod-identity": "enabled"}})
    );
    assert_eq!(
        patch[1]["value"][0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
        79200
    );
}

#[test]
fn pod_type_error_is_denied_with_uid() {
    let body = br#"{"request":{"uid":"u2","namespace":"default","object":{"spec":{"containers":[{"name":1}]}}}}"#;
    assert_eq!(
        json_call(body),
        r#"{"response":{"uid":"u2","allowed":false,"status":{"metadata":{},"message":"json: cannot unmarshal number into Go struct field Container.spec.containers.name of type string"}}}"#
    );
}
