//! `podpass manifests`: the install a cluster operator applies. Every rendering is checked as a
//! cluster would check it (strict schemas, references between documents: tests/manifests/
//! check.py), every setting it gives a podpass component is a flag of that component, and the
//! copy under deploy/ is the command's own output.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use support::{text, venv};

fn repo() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..")
}

fn manifests(args: &[&str]) -> String {
    let out = podpass(&[&["manifests"], args].concat());
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

fn podpass(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podpass"))
        .args(args)
        .env_clear()
        .output()
        .expect("run podpass")
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple(yaml).expect("the manifests are YAML")
}

/// The renderings the tests check: the default and each kind of change a flag makes.
fn variants(dir: &std::path::Path) -> Vec<(String, String)> {
    let jwks = dir.join("jwks.json");
    std::fs::write(
        &jwks,
        r#"{"keys":[{"use":"sig","kty":"RSA","kid":"k1","alg":"RS256","n":"sXch","e":"AQAB"}]}"#,
    )
    .unwrap();
    let jwks = jwks.to_str().unwrap().to_owned();
    [
        vec![],
        vec!["--components", "api"],
        vec![
            "--components",
            "webhook,agent",
            "--public-url",
            "https://podpass.example.com",
        ],
        vec!["--certificates", "self-signed", "--cluster-tokenreview"],
        vec![
            "--broker-role-arn",
            "arn:aws:iam::111122223333:role/podpass-broker",
            "--account-id",
            "111122223333",
        ],
        vec![
            "--failure-policy",
            "fail",
            "--agent-port",
            "8080",
            "--agent-max-requests-per-second",
            "20000",
            "--agent-request-burst",
            "5000",
            "--replicas",
            "1",
        ],
        vec![
            "--namespace",
            "identity",
            "--cluster",
            "kind",
            "--cluster-jwks-file",
            &jwks,
        ],
        vec![
            "--database-url",
            "postgres://podpass:secret@db/podpass",
            "--image",
            "registry.local/podpass:dev",
        ],
        vec![
            "--s3-upstream-url",
            "http://minio.storage.svc:9000",
            "--s3-upstream-secret",
            "minio-keys",
            "--replicas",
            "3",
        ],
        vec!["--s3-storage-size", "200Gi", "--s3-probe-port", "7710"],
    ]
    .into_iter()
    .map(|args| (args.join(" "), manifests(&args)))
    .collect()
}

#[test]
fn the_agents_rate_limit_is_rendered_as_asked() {
    let env = |args: &[&str]| -> Vec<(String, String)> {
        let docs = documents(&manifests(args));
        let agent = docs
            .iter()
            .find(|d| d["kind"] == "DaemonSet")
            .expect("the agent's DaemonSet");
        agent["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"].as_str().unwrap_or_default().contains("REQUEST"))
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_owned(),
                    e["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pair = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    assert_eq!(
        env(&[]),
        [
            pair("PODPASS_AGENT_MAX_REQUESTS_PER_SECOND", "1000"),
            pair("PODPASS_AGENT_REQUEST_BURST", "500")
        ]
    );
    assert_eq!(
        env(&[
            "--agent-max-requests-per-second",
            "20000",
            "--agent-request-burst",
            "5000"
        ]),
        [
            pair("PODPASS_AGENT_MAX_REQUESTS_PER_SECOND", "20000"),
            pair("PODPASS_AGENT_REQUEST_BURST", "5000")
        ]
    );
    assert!(
        !podpass(&["manifests", "--agent-max-requests-per-second", "0"])
            .status
            .success()
    );
}

#[test]
fn the_deploy_copy_is_the_default_rendering() {
    let rendered = manifests(&[]);
    let copy = std::fs::read_to_string(repo().join("deploy/podpass.yaml")).unwrap_or_default();
    assert!(
        copy == rendered,
        "deploy/podpass.yaml is stale: cargo run --release -- manifests > deploy/podpass.yaml"
    );
}

#[test]
fn every_rendering_passes_the_schemas_and_the_reference_checks() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, (_, yaml)) in variants(dir.path()).iter().enumerate() {
        let path = dir.path().join(format!("variant-{i}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        files.push(path);
    }
    let out = Command::new(venv().join("bin/python"))
        .arg(repo().join("tests/manifests/check.py"))
        .args(&files)
        .output()
        .expect("run check.py");
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // The checker itself refuses what a cluster refuses.
    let broken = files[0].with_file_name("broken.yaml");
    let default = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(
        &broken,
        default.replacen("replicas: 2", "replicas: 2\n  replica: 2", 1),
    )
    .unwrap();
    let out = Command::new(venv().join("bin/python"))
        .arg(repo().join("tests/manifests/check.py"))
        .arg(&broken)
        .output()
        .expect("run check.py");
    assert!(
        !out.status.success(),
        "an unknown field passed:\n{}",
        text(&out.stdout)
    );
}

/// The PODPASS_* variables a container of the manifests sets, with its arguments.
fn podpass_containers(docs: &[Value]) -> Vec<(Vec<String>, BTreeSet<String>)> {
    let mut found = Vec::new();
    for doc in docs {
        let spec = &doc["spec"]["template"]["spec"];
        let containers = spec["initContainers"]
            .as_array()
            .into_iter()
            .chain(spec["containers"].as_array())
            .flatten();
        for container in containers {
            let args: Vec<String> = container["args"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            let env: BTreeSet<String> = container["env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["name"].as_str())
                .filter(|name| name.starts_with("PODPASS_"))
                .map(str::to_owned)
                .collect();
            found.push((args, env));
        }
    }
    found
}

#[test]
fn every_setting_the_manifests_give_is_a_flag_of_its_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (flags, yaml) in variants(dir.path()) {
        for (args, env) in podpass_containers(&documents(&yaml)) {
            assert!(
                !args.is_empty(),
                "{flags}: a podpass container without a command"
            );
            let help = podpass(
                &[
                    args.iter().map(String::as_str).collect::<Vec<_>>(),
                    vec!["--help"],
                ]
                .concat(),
            );
            assert!(
                help.status.success(),
                "{flags}: podpass {args:?} is not a command"
            );
            let help = text(&help.stdout);
            for name in env {
                // `[env: NAME=value]`, or `[env: NAME]` for a secret's.
                assert!(
                    help.contains(&format!("[env: {name}="))
                        || help.contains(&format!("[env: {name}]")),
                    "{flags}: podpass {args:?} has no setting {name}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "only {checked} settings checked");
}

#[test]
fn the_install_has_what_an_operator_needs() {
    let docs = documents(&manifests(&[]));
    let kinds: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "Namespace/podpass",
        "Deployment/podpass-api",
        "PodDisruptionBudget/podpass-api",
        "Service/podpass-api",
        "StatefulSet/podpass-s3",
        "Service/podpass-s3",
        "Deployment/podpass-webhook",
        "MutatingWebhookConfiguration/podpass-webhook",
        "Certificate/podpass-webhook",
        "DaemonSet/podpass-agent",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "{expected} missing from {kinds:?}"
        );
    }
    // The namespace comes first, so that one apply creates everything.
    assert_eq!(kinds[0], "Namespace/podpass");
    let by_kind = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap();
    let webhook = &by_kind("MutatingWebhookConfiguration")["webhooks"][0];
    assert_eq!(webhook["failurePolicy"], "Ignore");
    assert_eq!(webhook["sideEffects"], "None");
    assert_eq!(webhook["rules"][0]["operations"][0], "CREATE");
    let excluded = webhook["namespaceSelector"]["matchExpressions"][0]["values"].to_string();
    assert!(
        excluded.contains("kube-system") && excluded.contains("podpass"),
        "{excluded}"
    );
    let agent = &by_kind("DaemonSet")["spec"]["template"]["spec"];
    assert_eq!(agent["hostNetwork"], true);
    assert_eq!(agent["initContainers"][0]["args"][1], "init");
    // `--failure-policy fail` is what it says.
    let failing = documents(&manifests(&["--failure-policy", "fail"]));
    let webhook = failing
        .iter()
        .find(|d| d["kind"] == "MutatingWebhookConfiguration")
        .unwrap();
    assert_eq!(webhook["webhooks"][0]["failurePolicy"], "Fail");
    // A JWKS that is not one is refused before anything is printed.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{").unwrap();
    let out = podpass(&["manifests", "--cluster-jwks-file", junk.to_str().unwrap()]);
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(!podpass(&["manifests", "--components", ""]).status.success());
}

#[test]
fn a_broker_install_takes_its_aws_identity_with_irsa() {
    let role = "arn:aws:iam::111122223333:role/podpass-broker";
    let api_spec = |args: &[&str]| {
        documents(&manifests(args))
            .into_iter()
            .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "podpass-api")
            .unwrap()["spec"]["template"]["spec"]
            .clone()
    };
    let spec = &api_spec(&["--broker-role-arn", role]);
    let env = spec["containers"][0]["env"].to_string();
    for expected in [
        r#"{"name":"PODPASS_BROKER","value":"true"}"#.to_owned(),
        format!(r#"{{"name":"AWS_ROLE_ARN","value":"{role}"}}"#),
        r#"{"name":"AWS_WEB_IDENTITY_TOKEN_FILE","value":"/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}"#.to_owned(),
    ] {
        assert!(env.contains(&expected), "{expected} missing from {env}");
    }
    let token = &spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "aws-iam-token")
        .unwrap()["projected"]["sources"][0]["serviceAccountToken"];
    assert_eq!(token["audience"], "sts.amazonaws.com");
    // Without the flag, the API has no AWS identity at all.
    let plain = api_spec(&[]).to_string();
    assert!(!plain.contains("AWS_ROLE_ARN") && !plain.contains("PODPASS_BROKER"));
}

/// The one embedded object store can have one writer only: without an upstream, S3 is one
/// StatefulSet pod with its PersistentVolume and the API replicas serve none; with an upstream,
/// every API replica serves S3 in front of it.
#[test]
fn s3_has_one_writer_or_lives_upstream() {
    let find = |docs: &[Value], kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .cloned()
    };
    let env_of = |workload: &Value| -> Vec<(String, Value)> {
        workload["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let value = e
                    .get("value")
                    .cloned()
                    .unwrap_or_else(|| e["valueFrom"].clone());
                (e["name"].as_str().unwrap().to_owned(), value)
            })
            .collect()
    };
    let setting = |env: &[(String, Value)], name: &str| {
        env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    };
    let ports_of = |workload: &Value| -> Vec<String> {
        workload["spec"]["template"]["spec"]["containers"][0]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };

    let embedded = documents(&manifests(&["--s3-storage-size", "50Gi"]));
    let api = find(&embedded, "Deployment", "podpass-api").unwrap();
    let api_env = env_of(&api);
    assert_eq!(setting(&api_env, "PODPASS_S3_LISTEN"), Some("off".into()));
    assert_eq!(ports_of(&api), ["http"]);
    let api_service = find(&embedded, "Service", "podpass-api").unwrap();
    assert_eq!(api_service["spec"]["ports"].as_array().unwrap().len(), 1);
    let store = find(&embedded, "StatefulSet", "podpass-s3").unwrap();
    assert_eq!(store["spec"]["replicas"], 1);
    assert_eq!(
        store["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "50Gi"
    );
    let pod = &store["spec"]["template"]["spec"];
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["name"] != "data")
    );
    assert_eq!(ports_of(&store), ["http", "s3"]);
    let store_env = env_of(&store);
    assert_eq!(
        setting(&store_env, "PODPASS_S3_LISTEN"),
        Some("0.0.0.0:7702".into())
    );
    // Everyone is told the one S3 Service, and the webhook injects it into pods.
    let s3_url = Value::from("http://podpass-s3.podpass.svc:7702");
    assert_eq!(
        setting(&api_env, "PODPASS_S3_PUBLIC_URL"),
        Some(s3_url.clone())
    );
    assert_eq!(
        setting(&store_env, "PODPASS_S3_PUBLIC_URL"),
        Some(s3_url.clone())
    );
    let webhook = find(&embedded, "Deployment", "podpass-webhook").unwrap();
    assert_eq!(
        setting(&env_of(&webhook), "PODPASS_WEBHOOK_S3_ENDPOINT_URL"),
        Some(s3_url)
    );
    // Both pods of `podpass up` share the store and create the operator's admin key alike.
    for env in [&api_env, &store_env] {
        assert!(setting(env, "PODPASS_DATABASE_URL").is_some());
        assert!(setting(env, "PODPASS_ADMIN_ACCESS_KEY_ID").is_some());
    }

    let upstream = documents(&manifests(&[
        "--s3-upstream-url",
        "http://minio.storage.svc:9000",
    ]));
    assert!(find(&upstream, "StatefulSet", "podpass-s3").is_none());
    assert!(find(&upstream, "Service", "podpass-s3").is_none());
    let api = find(&upstream, "Deployment", "podpass-api").unwrap();
    let api_env = env_of(&api);
    assert_eq!(ports_of(&api), ["http", "s3"]);
    assert_eq!(
        setting(&api_env, "PODPASS_S3_LISTEN"),
        Some("0.0.0.0:7702".into())
    );
    assert_eq!(
        setting(&api_env, "PODPASS_S3_UPSTREAM_URL"),
        Some("http://minio.storage.svc:9000".into())
    );
    assert_eq!(
        setting(&api_env, "PODPASS_S3_UPSTREAM_SECRET_ACCESS_KEY"),
        Some(
            serde_json::json!({"secretKeyRef": {"name": "podpass-s3-upstream", "key": "secret-access-key"}})
        )
    );
    assert_eq!(
        setting(&api_env, "PODPASS_S3_PUBLIC_URL"),
        Some("http://podpass-api.podpass.svc:7702".into())
    );
}
