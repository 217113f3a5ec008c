mod common;

use common::{FixedJitter, IRSA_ROLE, resolver};
use podpass_kubelet::admission::{KUBE_API_ACCESS_PREFIX, SERVICE_ACCOUNT_MOUNT_PATH};
use podpass_kubelet::manifest::{EnvSource, ProjectedSource, VolumeSource};
use podpass_kubelet::{Admission, ImageCommand, Images, KubeletError, Pod, parse_document};
use podpass_podmutation::WebhookConfig;
use serde_json::{Value, json};

fn admit(yaml: &str, namespace: Option<&str>) -> Result<Value, KubeletError> {
    let config = WebhookConfig::default();
    let resolver = resolver();
    Admission {
        webhook: Some(&config),
        identities: &resolver,
        jitter: &FixedJitter,
        images: &Images::default(),
    }
    .admit(parse_document(yaml)?, namespace)
    .map(|admitted| admitted.object)
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
            "metadata: {name: p}\nspec: {containers: [{name: c, command: [x], readinessProbe: {exec: {command: [x]}, tcpSocket: {port: 1}}}]}",
            "invalid Pod manifest: container \"c\": readinessProbe: Forbidden: may not specify more than 1 handler type",
        ),
        (
            "metadata: {name: p}\nspec: {containers: [{name: c, command: [x], livenessProbe: {periodSeconds: 1}}]}",
            "invalid Pod manifest: container \"c\": livenessProbe: Required value: must specify a handler type",
        ),
        (
            "metadata: {name: p}\nspec: {containers: [{name: c, command: [x], startupProbe: {exec: {command: [x]}, failureThreshold: 0}}]}",
            "invalid Pod manifest: container \"c\": startupProbe.failureThreshold: Invalid value: 0: must be greater than 0",
        ),
        (
            "metadata: {name: p}\nspec: {containers: [{name: c, image: example.com/team/tool:v2, args: [run]}]}",
            "invalid Pod manifest: container \"c\": podpass runs host commands and does not know what image \"example.com/team/tool:v2\" runs: set the container's `command`, annotate the pod with `podpass.dev/entrypoint.c: <host command>`, or map the image with `podpass up --image-entrypoint 'example.com/team/tool=<host command>'`",
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

/// The argv each container of `yaml` runs once admitted with `images`.
fn admitted_argv(yaml: &str, images: &Images) -> Vec<Vec<String>> {
    let config = WebhookConfig::default();
    let resolver = resolver();
    let pod = Admission {
        webhook: Some(&config),
        identities: &resolver,
        jitter: &FixedJitter,
        images,
    }
    .admit(parse_document(yaml).unwrap(), None)
    .unwrap()
    .pod;
    pod.all_containers()
        .map(|c| [c.command.clone(), c.args.clone()].concat())
        .collect()
}

#[test]
fn images_give_containers_their_entrypoint_as_a_runtime_would() {
    let images = Images::default();
    let cases: &[(&str, &[&str])] = &[
        // The usual way to run the AWS CLI image: its entrypoint is `aws`.
        (
            "{name: c, image: 'amazon/aws-cli:2.17.0', args: [s3, ls]}",
            &["aws", "s3", "ls"],
        ),
        (
            "{name: c, image: public.ecr.aws/aws-cli/aws-cli, args: [sts, get-caller-identity]}",
            &["aws", "sts", "get-caller-identity"],
        ),
        // `command` replaces the entrypoint.
        (
            "{name: c, image: amazon/aws-cli, command: [sh, -c], args: [echo]}",
            &["sh", "-c", "echo"],
        ),
        // An image without an entrypoint runs its CMD, which `args` replaces.
        ("{name: c, image: 'python:3.12-slim'}", &["python3"]),
        (
            "{name: c, image: python, args: [python3, -c, 'print(1)']}",
            &["python3", "-c", "print(1)"],
        ),
        ("{name: c, image: docker.io/library/busybox}", &["sh"]),
        // Without an image the container runs what it says.
        ("{name: c, args: ['true']}", &["true"]),
    ];
    for (container, expected) in cases {
        let yaml = format!("metadata: {{name: p}}\nspec: {{containers: [{container}]}}");
        assert_eq!(
            admitted_argv(&yaml, &images),
            vec![expected.to_vec()],
            "{container}"
        );
    }
}

#[test]
fn entrypoints_are_added_by_flag_and_by_annotation() {
    let mut images = Images::default();
    images.insert(
        "registry.local:5000/team/tool:v1",
        ImageCommand::entrypoint(&["/opt/tool"]),
    );
    let yaml = "metadata:
  name: p
  annotations: {podpass.dev/entrypoint.second: /usr/bin/env FOO=1}
spec:
  initContainers: [{name: first, image: 'registry.local:5000/team/tool:v9', args: [init]}]
  containers: [{name: second, image: unknown/image, args: [printenv, FOO]}]";
    assert_eq!(
        admitted_argv(yaml, &images),
        vec![
            vec!["/opt/tool", "init"],
            vec!["/usr/bin/env", "FOO=1", "printenv", "FOO"]
        ]
    );
}
