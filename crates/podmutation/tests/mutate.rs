//! Mutation rules beyond the fixtures: precedence, jitter, labels, skips, defaults.

mod common;

use common::{PinnedJitter, op_paths};
use podpass_podmutation::{
    AwsEndpoints, InjectionMethod, Mutation, ServiceAccountSettings, WebhookConfig, mutate_pod,
};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::111122223333:role/r";

fn irsa(role: &str) -> ServiceAccountSettings {
    ServiceAccountSettings {
        role_arn: Some(role.to_owned()),
        ..Default::default()
    }
}

fn pod() -> Value {
    json!({
        "metadata": {"name": "p"},
        "spec": {"serviceAccountName": "sa", "containers": [{"name": "app", "image": "i"}]}
    })
}

fn run(
    pod: &Value,
    config: &WebhookConfig,
    sa: Option<&ServiceAccountSettings>,
    pi: bool,
) -> Option<Mutation> {
    mutate_pod(pod, config, sa, pi, &PinnedJitter(80000)).unwrap()
}

fn value_at(mutation: &Mutation, path: &str) -> Value {
    mutation
        .patch
        .0
        .iter()
        .find_map(|op| match op {
            json_patch::PatchOperation::Add(add) if add.path.as_str() == path => {
                Some(add.value.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no op at {path}"))
}

fn expiration(mutation: &Mutation) -> i64 {
    value_at(mutation, "/spec/volumes")[0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"]
        .as_i64()
        .unwrap()
}

fn env(mutation: &Mutation, index: usize) -> Vec<(String, String)> {
    value_at(mutation, "/spec/containers")[index]["env"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    (
                        e["name"].as_str().unwrap().to_owned(),
                        e["value"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn no_identity_means_no_mutation() {
    let config = WebhookConfig::default();
    assert_eq!(run(&pod(), &config, None, false), None);
    assert_eq!(
        run(
            &pod(),
            &config,
            Some(&ServiceAccountSettings::default()),
            false
        ),
        None
    );
    assert_eq!(run(&pod(), &config, Some(&irsa("")), false), None);
}

#[test]
fn irsa_defaults_and_exact_env() {
    let mutation = run(&pod(), &WebhookConfig::default(), Some(&irsa(ROLE)), false).unwrap();
    assert_eq!(mutation.method, InjectionMethod::StsWebIdentity);
    assert_eq!(
        op_paths(&mutation.patch),
        ["/spec/volumes", "/spec/containers"]
    );
    assert_eq!(
        value_at(&mutation, "/spec/volumes"),
        json!([{"name": "aws-iam-token", "projected": {"sources": [{"serviceAccountToken": {
            "audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": "token"}}]}}])
    );
    assert_eq!(
        value_at(&mutation, "/spec/containers"),
        json!([{"name": "app", "image": "i",
            "env": [
                {"name": "AWS_ROLE_ARN", "value": ROLE},
                {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}
            ],
            "volumeMounts": [{"name": "aws-iam-token", "readOnly": true,
                "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount"}]}])
    );
}

#[test]
fn irsa_default_expiry_is_not_jittered_and_flags_apply() {
    let config = WebhookConfig {
        token_audience: "flag-aud".into(),
        token_expiration: 100,
        sts_regional_endpoint: true,
        ..Default::default()
    };
    let mutation = run(&pod(), &config, Some(&irsa(ROLE)), false).unwrap();
    assert_eq!(expiration(&mutation), 600, "flag value is clamped");
    let volume = value_at(&mutation, "/spec/volumes");
    assert_eq!(
        volume[0]["projected"]["sources"][0]["serviceAccountToken"]["audience"],
        "flag-aud"
    );
    assert_eq!(
        env(&mutation, 0)[0],
        ("AWS_STS_REGIONAL_ENDPOINTS".into(), "regional".into())
    );
    let default = run(&pod(), &WebhookConfig::default(), Some(&irsa(ROLE)), false).unwrap();
    assert_eq!(expiration(&default), 86400);
}

#[test]
fn endpoints_are_injected_with_credentials_unless_the_container_sets_them() {
    let config = WebhookConfig {
        endpoints: AwsEndpoints {
            sts: Some("http://podpass.podpass.svc:7700".into()),
            all: None,
            s3: Some("http://podpass.podpass.svc:7702".into()),
        },
        ..Default::default()
    };
    let mut set_s3 = pod();
    set_s3["spec"]["containers"][0]["env"] =
        json!([{"name": "AWS_ENDPOINT_URL_S3", "value": "http://mine"}]);
    for (pod, pi) in [(pod(), false), (pod(), true), (set_s3.clone(), false)] {
        let mutation = run(&pod, &config, Some(&irsa(ROLE)), pi).unwrap();
        let env = env(&mutation, 0);
        let value = |name: &str| {
            let found: Vec<&String> = env
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v)
                .collect();
            found
        };
        assert_eq!(
            value("AWS_ENDPOINT_URL_STS"),
            ["http://podpass.podpass.svc:7700"]
        );
        assert!(value("AWS_ENDPOINT_URL").is_empty());
        let s3 = value("AWS_ENDPOINT_URL_S3");
        assert_eq!(s3.len(), 1, "never twice: {env:?}");
        if pod == set_s3 {
            assert_eq!(s3, ["http://mine"], "the container's own value wins");
        }
    }
    // Without endpoint flags, nothing of the kind is injected (the reference's behaviour).
    let plain = run(&pod(), &WebhookConfig::default(), Some(&irsa(ROLE)), false).unwrap();
    assert!(
        env(&plain, 0)
            .iter()
            .all(|(n, _)| !n.starts_with("AWS_ENDPOINT_URL"))
    );
}

#[test]
fn expiration_precedence_pod_over_sa_over_flag() {
    let config = WebhookConfig {
        token_expiration: 7200,
        ..Default::default()
    };
    let sa = ServiceAccountSettings {
        token_expiration: Some(3600),
        ..irsa(ROLE)
    };
    assert_eq!(
        expiration(&run(&pod(), &config, Some(&irsa(ROLE)), false).unwrap()),
        7200
    );
    assert_eq!(
        expiration(&run(&pod(), &config, Some(&sa), false).unwrap()),
        3600
    );
    let mut annotated = pod();
    annotated["metadata"]["annotations"] = json!({"eks.amazonaws.com/token-expiration": "1800"});
    assert_eq!(
        expiration(&run(&annotated, &config, Some(&sa), false).unwrap()),
        1800
    );
    annotated["metadata"]["annotations"] = json!({"eks.amazonaws.com/token-expiration": "soon"});
    assert_eq!(
        expiration(&run(&annotated, &config, Some(&sa), false).unwrap()),
        3600
    );
    // The annotation prefix applies to pod annotations too.
    let other_prefix = WebhookConfig {
        annotation_prefix: "example.com".into(),
        ..config
    };
    annotated["metadata"]["annotations"] = json!({"eks.amazonaws.com/token-expiration": "1800"});
    assert_eq!(
        expiration(&run(&annotated, &other_prefix, Some(&sa), false).unwrap()),
        3600
    );
}

#[test]
fn pod_identity_wins_over_role_arn_and_jitters_default() {
    let mutation = run(&pod(), &WebhookConfig::default(), Some(&irsa(ROLE)), true).unwrap();
    assert_eq!(mutation.method, InjectionMethod::ContainerCredentials);
    assert_eq!(
        op_paths(&mutation.patch),
        ["/metadata/labels", "/spec/volumes", "/spec/containers"]
    );
    assert_eq!(
        value_at(&mutation, "/metadata/labels"),
        json!({"eks.amazonaws.com/pod-identity": "enabled"})
    );
    assert_eq!(
        expiration(&mutation),
        80000,
        "default 86400 replaced by jitter"
    );
    assert_eq!(
        value_at(&mutation, "/spec/volumes")[0]["projected"]["sources"][0]["serviceAccountToken"]["audience"],
        "pods.eks.amazonaws.com"
    );
    assert_eq!(
        env(&mutation, 0),
        vec![
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI".to_owned(),
                "http://169.254.170.23/v1/credentials".to_owned()
            ),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE".to_owned(),
                "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"
                    .to_owned()
            ),
        ]
    );
}

#[test]
fn pod_identity_non_default_expiry_is_not_jittered() {
    let sa = ServiceAccountSettings {
        token_expiration: Some(10000),
        ..Default::default()
    };
    let mutation = run(&pod(), &WebhookConfig::default(), Some(&sa), true).unwrap();
    assert_eq!(expiration(&mutation), 10000);
    let mut annotated = pod();
    annotated["metadata"]["annotations"] = json!({"eks.amazonaws.com/token-expiration": "86400"});
    let mutation = run(&annotated, &WebhookConfig::default(), Some(&sa), true).unwrap();
    assert_eq!(
        expiration(&mutation),
        80000,
        "an explicit 86400 equals the default"
    );
}

#[test]
fn pod_identity_for_unknown_service_account_uses_fixed_fallbacks() {
    let config = WebhookConfig {
        sts_regional_endpoint: true,
        token_expiration: 3600,
        ..Default::default()
    };
    let mutation = run(&pod(), &config, None, true).unwrap();
    assert_eq!(expiration(&mutation), 80000);
    assert!(
        env(&mutation, 0)
            .iter()
            .all(|(name, _)| name != "AWS_STS_REGIONAL_ENDPOINTS")
    );
    // A known ServiceAccount without annotations gets the flags.
    let known = run(
        &pod(),
        &config,
        Some(&ServiceAccountSettings::default()),
        true,
    )
    .unwrap();
    assert_eq!(expiration(&known), 3600);
    assert_eq!(env(&known, 0)[0].0, "AWS_STS_REGIONAL_ENDPOINTS");
}

#[test]
fn existing_labels_get_an_escaped_key() {
    let mut labelled = pod();
    labelled["metadata"]["labels"] = json!({"app": "x"});
    let mutation = run(&labelled, &WebhookConfig::default(), None, true).unwrap();
    assert_eq!(
        op_paths(&mutation.patch)[0],
        "/metadata/labels/eks.amazonaws.com~1pod-identity"
    );
    assert_eq!(
        value_at(
            &mutation,
            "/metadata/labels/eks.amazonaws.com~1pod-identity"
        ),
        "enabled"
    );
    let patched = common::apply(&labelled, &mutation.patch);
    assert_eq!(
        patched["metadata"]["labels"],
        json!({"app": "x", "eks.amazonaws.com/pod-identity": "enabled"})
    );
}

#[test]
fn empty_volume_list_is_prepended_to() {
    let mut with_empty = pod();
    with_empty["spec"]["volumes"] = json!([]);
    let mutation = run(
        &with_empty,
        &WebhookConfig::default(),
        Some(&irsa(ROLE)),
        false,
    )
    .unwrap();
    assert_eq!(
        op_paths(&mutation.patch),
        ["/spec/volumes/0", "/spec/containers"]
    );
}

#[test]
fn region_pair_and_env_never_overwritten() {
    let config = WebhookConfig {
        aws_default_region: "eu-west-1".into(),
        ..Default::default()
    };
    let mut p = pod();
    p["spec"]["containers"][0]["env"] = json!([
        {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
        {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/mine"}
    ]);
    let mutation = run(&p, &config, Some(&irsa(ROLE)), false).unwrap();
    assert_eq!(
        env(&mutation, 0),
        vec![
            ("AWS_DEFAULT_REGION".to_owned(), "us-east-1".to_owned()),
            ("AWS_WEB_IDENTITY_TOKEN_FILE".to_owned(), "/mine".to_owned()),
        ]
    );
    // The mount is still added, since not all three groups were present.
    assert_eq!(
        value_at(&mutation, "/spec/containers")[0]["volumeMounts"][0]["name"],
        "aws-iam-token"
    );
}

#[test]
fn skip_containers_csv_applies_to_init_containers() {
    let mut p = pod();
    p["metadata"]["annotations"] = json!({"eks.amazonaws.com/skip-containers": "init,\"app\""});
    p["spec"]["initContainers"] = json!([{"name": "init"}, {"name": "other"}]);
    let mutation = run(&p, &WebhookConfig::default(), Some(&irsa(ROLE)), false).unwrap();
    assert_eq!(
        value_at(&mutation, "/spec/containers"),
        json!([{"name": "app", "image": "i"}])
    );
    let init = value_at(&mutation, "/spec/initContainers");
    assert_eq!(init[0], json!({"name": "init"}));
    assert_eq!(init[1]["env"][0]["name"], "AWS_ROLE_ARN");
    // A malformed CSV skips nothing.
    p["metadata"]["annotations"] = json!({"eks.amazonaws.com/skip-containers": "a\"pp"});
    let mutation = run(&p, &WebhookConfig::default(), Some(&irsa(ROLE)), false).unwrap();
    assert_eq!(
        value_at(&mutation, "/spec/containers")[0]["env"][0]["name"],
        "AWS_ROLE_ARN"
    );
}

#[test]
fn unknown_container_fields_survive() {
    let mut p = pod();
    p["spec"]["containers"][0]["futureField"] = json!({"x": [1, 2]});
    p["spec"]["containers"][0]["env"] = Value::Null;
    let mutation = run(&p, &WebhookConfig::default(), Some(&irsa(ROLE)), false).unwrap();
    let container = &value_at(&mutation, "/spec/containers")[0];
    assert_eq!(container["futureField"], json!({"x": [1, 2]}));
    assert_eq!(container["env"].as_array().unwrap().len(), 2);
}

#[test]
fn pod_without_containers_still_gets_the_container_op() {
    let p = json!({"metadata": {}, "spec": {}});
    let mutation = run(&p, &WebhookConfig::default(), Some(&irsa(ROLE)), false).unwrap();
    assert_eq!(value_at(&mutation, "/spec/containers"), json!([]));
}

#[test]
fn token_path_is_joined_and_cleaned_like_go() {
    let config = WebhookConfig {
        token_mount_path: "/custom/dir/".into(),
        ..Default::default()
    };
    let mutation = run(&pod(), &config, Some(&irsa(ROLE)), false).unwrap();
    assert_eq!(env(&mutation, 0)[1].1, "/custom/dir/token");
    assert_eq!(
        value_at(&mutation, "/spec/containers")[0]["volumeMounts"][0]["mountPath"],
        "/custom/dir/",
        "the mount path itself is used as given"
    );
}

#[test]
fn unreadable_pod_is_an_error() {
    let err = mutate_pod(
        &json!(7),
        &WebhookConfig::default(),
        None,
        false,
        &PinnedJitter(79200),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "json: cannot unmarshal number into Go value of type v1.Pod"
    );
}
