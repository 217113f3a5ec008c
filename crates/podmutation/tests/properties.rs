//! Invariants of the patch over generated pods.

mod common;

use common::{PinnedJitter, apply};
use podpass_podmutation::{ServiceAccountSettings, WebhookConfig, mutate_pod};
use proptest::prelude::*;
use serde_json::{Value, json};

const ENV_KEYS: [&str; 7] = [
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_STS_REGIONAL_ENDPOINTS",
];
const VOLUMES: [&str; 3] = ["aws-iam-token", "eks-pod-identity-token", "data"];

fn container(index: usize) -> impl Strategy<Value = Value> {
    (
        proptest::sample::subsequence(ENV_KEYS.to_vec(), 0..=ENV_KEYS.len()),
        proptest::sample::subsequence(VOLUMES.to_vec(), 0..=VOLUMES.len()),
    )
        .prop_map(move |(env, mounts)| {
            json!({
                "name": format!("c{index}"),
                "env": env.iter().map(|name| json!({"name": name, "value": "preset"})).collect::<Vec<_>>(),
                "volumeMounts": mounts.iter().map(|name| json!({"name": name, "mountPath": "/preset"})).collect::<Vec<_>>(),
            })
        })
}

fn pod() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec(container(0), 0..3),
        proptest::collection::vec(container(10), 0..3),
        proptest::option::of(proptest::sample::subsequence(
            VOLUMES.to_vec(),
            0..=VOLUMES.len(),
        )),
        any::<bool>(),
    )
        .prop_map(|(containers, init, volumes, labels)| {
            let mut pod = json!({"metadata": {"name": "p"}, "spec": {"serviceAccountName": "sa"}});
            pod["spec"]["containers"] = containers.into();
            if !init.is_empty() {
                pod["spec"]["initContainers"] = init.into();
            }
            if let Some(volumes) = volumes {
                pod["spec"]["volumes"] = volumes.iter().map(|n| json!({"name": n})).collect();
            }
            if labels {
                pod["metadata"]["labels"] = json!({"app": "x"});
            }
            pod
        })
}

fn env_names(container: &Value) -> Vec<String> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

proptest! {
    #[test]
    fn patch_applies_and_never_duplicates(pod in pod(), pod_identity in any::<bool>(), region in any::<bool>(), sts in any::<bool>()) {
        let config = WebhookConfig {
            aws_default_region: if region { "eu-west-1".into() } else { String::new() },
            sts_regional_endpoint: sts,
            ..Default::default()
        };
        let sa = ServiceAccountSettings { role_arn: Some("arn:aws:iam::111122223333:role/r".into()), ..Default::default() };
        let mutation = mutate_pod(&pod, &config, Some(&sa), pod_identity, &PinnedJitter(79200)).unwrap().unwrap();
        let patched = apply(&pod, &mutation.patch);
        let volume = if pod_identity { "eks-pod-identity-token" } else { "aws-iam-token" };

        let volumes: Vec<&str> = patched["spec"]["volumes"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
        prop_assert_eq!(volumes.iter().filter(|n| **n == volume).count(), 1);
        prop_assert_eq!(patched["spec"]["containers"].as_array().map(Vec::len), pod["spec"]["containers"].as_array().map(Vec::len));
        if pod_identity {
            prop_assert_eq!(&patched["metadata"]["labels"]["eks.amazonaws.com/pod-identity"], "enabled");
        }
        for list in ["containers", "initContainers"] {
            for (before, after) in pod["spec"][list].as_array().into_iter().flatten().zip(patched["spec"][list].as_array().into_iter().flatten()) {
                let names = env_names(after);
                for key in ENV_KEYS {
                    prop_assert!(names.iter().filter(|n| *n == key).count() <= 1, "duplicate {}", key);
                }
                // Existing values are never overwritten.
                for original in before["env"].as_array().into_iter().flatten() {
                    prop_assert!(after["env"].as_array().unwrap().contains(original));
                }
                let pair = if pod_identity { [ENV_KEYS[2], ENV_KEYS[3]] } else { [ENV_KEYS[0], ENV_KEYS[1]] };
                prop_assert!(names.iter().any(|n| pair.contains(&n.as_str())), "credentials env missing");
            }
        }
    }
}
