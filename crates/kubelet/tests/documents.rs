//! `podpass run -f` files: which documents run, which are stored, and the hostile ones refused.

use podpass_kubelet::documents::{MAX_OBJECT_BYTES, classify};
use podpass_kubelet::{ConfigKind, ConfigObject, Document, parse_documents};
use serde_json::{Value, json};

fn documents(yaml: &str) -> Vec<Document> {
    parse_documents(yaml)
        .unwrap()
        .into_iter()
        .map(|d| classify(d).unwrap())
        .collect()
}

fn refusal(document: Value) -> String {
    ConfigObject::from_value(&document).unwrap_err().to_string()
}

#[test]
fn a_multi_document_file_sorts_into_pods_objects_and_the_rest() {
    let yaml = "
apiVersion: v1
kind: Namespace
metadata: {name: podpass}
---
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: podpass}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, command: ['true']}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec: {containers: [{name: m, command: ['true']}]}
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: podpass}
data: {url: cG9zdGdyZXM6Ly94}
stringData: {user: podpass}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::000000000000:role/r'}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {region: eu-west-1}
binaryData: {blob: AP8=}
";
    let found = documents(yaml);
    assert_eq!(found.len(), 6, "{found:?}");
    assert_eq!(
        found[0],
        Document::Other {
            kind: "Namespace".into(),
            name: "podpass".into(),
            document: Box::new(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "podpass"}})
            ),
        }
    );
    // One pod of the template, in the workload's namespace, with its labels.
    assert_eq!(
        found[1],
        Document::Pod {
            pod: json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "api-0", "namespace": "podpass", "labels": {"app": "api"}},
                "spec": {"containers": [{"name": "api", "command": ["true"]}]},
            }),
            owner: Some("Deployment/api".into()),
        }
    );
    let Document::Pod { pod, .. } = &found[2] else {
        panic!("{:?}", found[2])
    };
    assert_eq!(pod["spec"]["restartPolicy"], "Never", "a Job's pod ends");
    let Document::Config(secret) = &found[3] else {
        panic!("{:?}", found[3])
    };
    assert_eq!(secret.kind, ConfigKind::Secret);
    assert_eq!(secret.namespace.as_deref(), Some("podpass"));
    assert_eq!(secret.data["url"], b"postgres://x");
    assert_eq!(secret.data["user"], b"podpass");
    assert_eq!(
        found[4],
        Document::ServiceAccount {
            namespace: None,
            name: "app".into(),
            annotations: [(
                "eks.amazonaws.com/role-arn".to_owned(),
                "arn:aws:iam::000000000000:role/r".to_owned()
            )]
            .into(),
        }
    );
    let Document::Config(config) = &found[5] else {
        panic!("{:?}", found[5])
    };
    assert_eq!(config.data["region"], b"eu-west-1");
    assert_eq!(config.data["blob"], vec![0, 255]);
    // What the CLI sends back reads as the same object.
    assert_eq!(
        &ConfigObject::from_value(&config.to_document()).unwrap(),
        config
    );
}

#[test]
fn hostile_secrets_are_refused_as_the_api_server_refuses_them() {
    let secret = |extra: Value| {
        let mut document = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}});
        for (key, value) in extra.as_object().unwrap() {
            document[key] = value.clone();
        }
        document
    };
    for (document, expected) in [
        (
            secret(json!({"data": {"k": "not base64!"}})),
            "illegal base64 data",
        ),
        (
            secret(json!({"stringData": {"../../etc/passwd": "x"}})),
            "a valid config key",
        ),
        (
            secret(json!({"stringData": {"..data": "x"}})),
            "a valid config key",
        ),
        (
            secret(json!({"stringData": {"a/b": "x"}})),
            "a valid config key",
        ),
        (
            secret(json!({"stringData": {"k": 5}})),
            "stringData[k]: must be a string",
        ),
        (
            secret(json!({"data": ["k"]})),
            "data: must be a map of strings",
        ),
        (
            secret(json!({"stringData": {"k": "x".repeat(MAX_OBJECT_BYTES)}})),
            "Too long",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "../escape"}}),
            "metadata.name: Invalid value",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "a/b"}}),
            "metadata.namespace: Invalid value",
        ),
        (
            json!({"kind": "Secret", "metadata": {}}),
            "metadata.name: Required value",
        ),
    ] {
        let message = refusal(document.clone());
        assert!(message.contains(expected), "{document}: {message}");
    }
}

#[test]
fn a_workload_without_a_template_or_a_valid_name_is_refused() {
    for (yaml, expected) in [
        (
            "kind: Deployment\nmetadata: {name: api}\nspec: {}",
            "spec.template: Required value",
        ),
        (
            "kind: DaemonSet\nmetadata: {name: ../x}\nspec: {template: {spec: {}}}",
            "metadata.name: Invalid value",
        ),
    ] {
        let document = parse_documents(yaml).unwrap().remove(0);
        let message = classify(document).unwrap_err().to_string();
        assert!(message.contains(expected), "{yaml}: {message}");
    }
}

#[test]
fn a_statefulsets_pod_gets_a_claim_of_each_template() {
    let yaml = "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s3, namespace: podpass}
spec:
  serviceName: s3
  selector: {matchLabels: {app: s3}}
  template:
    metadata: {labels: {app: s3}}
    spec:
      containers: [{name: s3, command: ['true'], volumeMounts: [{name: data, mountPath: /data}]}]
      volumes: [{name: tmp, emptyDir: {}}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
";
    let document = parse_documents(yaml).unwrap().remove(0);
    let Document::Pod { pod, owner } = classify(document).unwrap() else {
        panic!("a StatefulSet runs a pod");
    };
    assert_eq!(owner.as_deref(), Some("StatefulSet/s3"));
    assert_eq!(pod["metadata"]["name"], "s3-0");
    assert_eq!(
        pod["spec"]["volumes"],
        json!([
            {"name": "tmp", "emptyDir": {}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "data-s3-0"}},
        ])
    );
}
