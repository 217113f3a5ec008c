mod common;

use common::{FixedJitter, IRSA_ROLE, resolver};
use podpass_kubelet::admission::{KUBE_API_ACCESS_PREFIX, SERVICE_ACCOUNT_MOUNT_PATH};
use podpass_kubelet::manifest::{EnvSource, ProjectedSource, VolumeSource};
use podpass_kubelet::{Admission, KubeletError, Pod, parse_document};
use podpass_podmutation::WebhookConfig;
use serde_json::{Value, json};

fn admit(yaml: &str, namespace: Option<&str>) -> Result<Value, KubeletError> {
    let config = WebhookConfig::default();
    let resolver = resolver();
    Admission {
        webhook: &config,
        identities: &resolver,
        jitter: &FixedJitter,
    }
    .admit(parse_document(yaml)?, namespace)
    .map(|(object, _)| object)
}

const PLAIN: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web, x-unknown: kept}
spec:
  initContainers: [{name: init, command: ["true"]}]
  containers:
  - name: app
    command: [sh, -c, "echo hi"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, emptyDir: {}}]
"#;

#[test]
fn injects_kube_api_access_into_every_container() {
    let pod = admit(PLAIN, None).unwrap();
    assert_eq!(pod["metadata"]["namespace"], "default");
    assert_eq!(pod["metadata"]["x-unknown"], "kept");
    assert_eq!(pod["spec"]["serviceAccountName"], "default");
    assert_eq!(pod["spec"]["restartPolicy"], "Always");
    let uid = pod["metadata"]["uid"].as_str().unwrap();
    assert_eq!(uid.len(), 36);

    let volumes = pod["spec"]["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 2);
    let name = volumes[1]["name"].as_str().unwrap();
    let suffix = name.strip_prefix(KUBE_API_ACCESS_PREFIX).unwrap();
    assert_eq!(suffix.len(), 5);
    assert!(
        suffix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert_eq!(
        volumes[1]["projected"],
        json!({
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ]
        })
    );
    let mount = json!({"name": name, "readOnly": true, "mountPath": SERVICE_ACCOUNT_MOUNT_PATH});
    assert_eq!(
        pod["spec"]["initContainers"][0]["volumeMounts"],
        json!([mount])
    );
    assert_eq!(pod["spec"]["containers"][0]["volumeMounts"][1], mount);
    // No IRSA for the default ServiceAccount.
    assert!(pod["spec"]["containers"][0].get("env").is_none());
    Pod::from_value(&pod).unwrap();
}

#[test]
fn automount_false_skips_the_api_access_volume() {
    let yaml = PLAIN.replace("spec:\n", "spec:\n  automountServiceAccountToken: false\n");
    let pod = admit(&yaml, None).unwrap();
    assert_eq!(
        pod["spec"]["volumes"],
        json!([{"name": "data", "emptyDir": {}}])
    );
    assert_eq!(
        pod["spec"]["containers"][0]["volumeMounts"],
        json!([{"name": "data", "mountPath": "/data"}])
    );
}

#[test]
fn irsa_service_account_gets_the_webhook_mutation() {
    let yaml = PLAIN.replace("spec:\n", "spec:\n  serviceAccountName: s3-reader\n");
    let value = admit(&yaml, Some("default")).unwrap();
    let env = &value["spec"]["containers"][0]["env"];
    assert_eq!(
        env,
        &json!([
            {"name": "AWS_ROLE_ARN", "value": IRSA_ROLE},
            {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}
        ])
    );
    let pod = Pod::from_value(&value).unwrap();
    let irsa = pod
        .volumes
        .iter()
        .find(|v| v.name == "aws-iam-token")
        .unwrap();
    let VolumeSource::Projected { sources, .. } = &irsa.source else {
        panic!("not projected: {irsa:?}");
    };
    let ProjectedSource::ServiceAccountToken(token) = &sources[0] else {
        panic!("not a token: {sources:?}");
    };
    assert_eq!(token.audience.as_deref(), Some("sts.amazonaws.com"));
    assert_eq!(token.expiration_seconds, 86400);
    assert_eq!(token.path, "token");
    let app = pod.container("app").unwrap();
    assert!(app.volume_mounts.iter().any(|m| m.name == "aws-iam-token"
        && m.mount_path == "/var/run/secrets/eks.amazonaws.com/serviceaccount"
        && m.read_only));
    assert_eq!(app.env[0].source, EnvSource::Value(IRSA_ROLE.into()));
}

#[test]
fn namespace_mismatch_is_rejected() {
    let yaml = PLAIN.replace(
        "metadata: {name: web,",
        "metadata: {name: web, namespace: a,",
    );
    let err = admit(&yaml, Some("b")).unwrap_err();
    assert_eq!(err.http_status(), 400);
    assert_eq!(
        err.to_string(),
        "the namespace of the provided object does not match the namespace sent on the request"
    );
    assert_eq!(admit(&yaml, None).unwrap()["metadata"]["namespace"], "a");
}

#[test]
fn invalid_manifests_are_reported_with_context() {
    let cases = [
        ("metadata: [", "invalid Pod manifest: YAML"),
        (
            "- a\n- b\n",
            "invalid Pod manifest: the document is not an object",
        ),
        ("{\"spec\": {}", "invalid Pod manifest: JSON"),
        (
            "kind: Service\nmetadata: {name: x}\nspec: {containers: [{name: c, command: [x]}]}",
            "invalid Pod manifest: kind \"Service\" is not \"Pod\"",
        ),
        (
            "spec: {containers: [{name: c, command: [x]}]}",
            "invalid Pod manifest: metadata.name: Required value",
        ),
        (
            "metadata: {name: ../etc}\nspec: {containers: [{name: c, command: [x]}]}",
            "invalid Pod manifest: metadata.name: Invalid value",
        ),
        (
            "metadata: {name: p}\nspec: {containers: []}",
            "invalid Pod manifest: spec.containers: Required value",
        ),
        (
            "metadata: {name: p}\nspec: {containers: [{name: c}]}",
            "invalid Pod manifest: container \"c\": command is required",
        ),
        (
            "metadata: {name: p}\nspec: {containers: [{name: c, command: [x], volumeMounts: [{name: v, mountPath: /v}]}]}",
            "invalid Pod manifest: container \"c\": volumeMounts.name \"v\" not found",
        ),
        (
            "metadata: {name: p}\nspec:\n  containers: [{name: c, command: [x]}]\n  volumes: [{name: v, configMap: {name: m, items: [{key: k, path: ../../x}]}}]",
            "invalid Pod manifest: volume \"v\": items.path: Invalid value",
        ),
        (
            "metadata: {name: p}\nspec:\n  containers: [{name: c, command: [x]}]\n  volumes: [{name: v, projected: {sources: [{serviceAccountToken: {path: t, expirationSeconds: 60}}]}}]",
            "invalid Pod manifest: volume \"v\": serviceAccountToken.expirationSeconds: may not specify a duration less than 10 minutes",
        ),
        (
            "metadata: {name: p}\nspec:\n  containers: [{name: c, command: [x]}, {name: c, command: [z]}]",
            "invalid Pod manifest: duplicate container name \"c\"",
        ),
    ];
    for (yaml, prefix) in cases {
        let err = admit(yaml, None).unwrap_err().to_string();
        assert!(err.starts_with(prefix), "{yaml:?}: {err}");
    }
}

#[test]
fn json_and_yaml_read_the_same() {
    let json_text = r#"{"metadata":{"name":"p","namespace":"team"},"spec":{"containers":[{"name":"c","command":["echo"],"args":["$(NAME)"],"env":[{"name":"NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}]}]}}"#;
    let yaml_text = "metadata: {name: p, namespace: team}\nspec:\n  containers:\n  - name: c\n    command: [echo]\n    args: [$(NAME)]\n    env: [{name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\n";
    let a = Pod::from_value(&parse_document(json_text).unwrap()).unwrap();
    let b = Pod::from_value(&parse_document(yaml_text).unwrap()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.namespace, "team");
    assert_eq!(a.service_account_name, "default");
    assert_eq!(
        a.containers[0].env[0].source,
        EnvSource::FieldRef("metadata.name".into())
    );
}
