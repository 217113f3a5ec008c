//! The pod mutation: which credentials to inject and the exact JSON Patch of the reference.

use std::collections::HashSet;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation};
use serde_json::{Map, Value, json};

use crate::config::{DEFAULT_TOKEN_EXPIRATION, WebhookConfig};
use crate::gocompat::{first_csv_record, join_path};
use crate::jitter::Jitter;
use crate::pod::{ContainerView, PodError, PodView};
use crate::settings::{
    SKIP_CONTAINERS_ANNOTATION, ServiceAccountSettings, TOKEN_EXPIRATION_ANNOTATION,
    parse_token_expiration,
};

/// Name of the IRSA token volume.
pub(crate) const IRSA_VOLUME_NAME: &str = "aws-iam-token";
/// File name of the IRSA token inside its mount.
pub(crate) const IRSA_TOKEN_PATH: &str = "token";
/// Label key and value marking pods injected for Pod Identity.
pub(crate) const POD_IDENTITY_LABEL: (&str, &str) = ("eks.amazonaws.com/pod-identity", "enabled");

const ENV_ROLE_ARN: &str = "AWS_ROLE_ARN";
const ENV_WEB_IDENTITY_TOKEN_FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
const ENV_FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
const ENV_AUTHORIZATION_TOKEN_FILE: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
const ENV_REGION: &str = "AWS_REGION";
const ENV_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
const ENV_REGIONAL_STS: &str = "AWS_STS_REGIONAL_ENDPOINTS";

/// The credential mechanism injected into a pod (also the `method` metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InjectionMethod {
    /// IRSA: `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`.
    StsWebIdentity,
    /// Pod Identity: `AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`.
    ContainerCredentials,
}

impl InjectionMethod {
    /// The reference's metric label value.
    pub fn metric_label(self) -> &'static str {
        match self {
            Self::StsWebIdentity => "sts_web_identity",
            Self::ContainerCredentials => "container_credentials",
        }
    }
}

/// The result of mutating one pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// Which credentials were injected.
    pub method: InjectionMethod,
    /// The JSON Patch; like the reference, it always re-sends `/spec/containers`.
    pub patch: Patch,
}

/// Computes the reference webhook's patch for `pod`.
///
/// `service_account` is the pod ServiceAccount's settings (`None`: unknown ServiceAccount) and
/// `has_pod_identity` whether it has a Pod Identity association, which takes precedence over a
/// role ARN. Returns `Ok(None)` when the pod gets no credentials.
pub fn mutate_pod(
    pod: &Value,
    config: &WebhookConfig,
    service_account: Option<&ServiceAccountSettings>,
    has_pod_identity: bool,
    jitter: &dyn Jitter,
) -> Result<Option<Mutation>, PodError> {
    let view = PodView::parse(pod)?;
    Ok(mutate_view(
        &view,
        config,
        service_account,
        has_pod_identity,
        jitter,
    ))
}

/// [`mutate_pod`] for a Pod that was already read.
pub fn mutate_view(
    pod: &PodView<'_>,
    config: &WebhookConfig,
    service_account: Option<&ServiceAccountSettings>,
    has_pod_identity: bool,
    jitter: &dyn Jitter,
) -> Option<Mutation> {
    let plan = PatchPlan::resolve(config, service_account, has_pod_identity, pod, jitter)?;
    Some(Mutation {
        method: plan.method(),
        patch: plan.patch(pod, config),
    })
}

/// The credential env pair of one method.
enum Credentials {
    WebIdentity { role_arn: String },
    ContainerCredentials { full_uri: String },
}

/// Everything the patch depends on, merged from flags, ServiceAccount and Pod annotations.
struct PatchPlan {
    credentials: Credentials,
    audience: String,
    regional_sts: bool,
    token_expiration: i64,
    mount_path: String,
    volume_name: String,
    token_path: String,
    containers_to_skip: HashSet<String>,
}

impl PatchPlan {
    fn resolve(
        config: &WebhookConfig,
        service_account: Option<&ServiceAccountSettings>,
        has_pod_identity: bool,
        pod: &PodView<'_>,
        jitter: &dyn Jitter,
    ) -> Option<Self> {
        let default_expiration = config.effective_token_expiration();
        let containers_to_skip = containers_to_skip(config, pod);
        if has_pod_identity {
            // Only the "common" settings come from the ServiceAccount; an unknown one gets the
            // reference cache's fixed fallback (no regional STS, 86400 s), not the flags.
            let (regional_sts, sa_expiration) = match service_account {
                Some(sa) => (
                    sa.regional_sts.unwrap_or(config.sts_regional_endpoint),
                    sa.token_expiration.unwrap_or(default_expiration),
                ),
                None => (false, DEFAULT_TOKEN_EXPIRATION),
            };
            let mut token_expiration = pod_token_expiration(config, pod).unwrap_or(sa_expiration);
            if token_expiration == DEFAULT_TOKEN_EXPIRATION {
                token_expiration = jitter.jittered_expiration();
            }
            return Some(Self {
                credentials: Credentials::ContainerCredentials {
                    full_uri: config.container_credentials_full_uri.clone(),
                },
                audience: config.container_credentials_audience.clone(),
                regional_sts,
                token_expiration,
                mount_path: config.container_credentials_token_mount_path.clone(),
                volume_name: config.container_credentials_token_volume_name.clone(),
                token_path: config.container_credentials_token_path.clone(),
                containers_to_skip,
            });
        }
        let sa = service_account?;
        let role_arn = sa.irsa_role_arn()?.to_owned();
        Some(Self {
            credentials: Credentials::WebIdentity { role_arn },
            audience: sa
                .audience
                .clone()
                .unwrap_or_else(|| config.token_audience.clone()),
            regional_sts: sa.regional_sts.unwrap_or(config.sts_regional_endpoint),
            token_expiration: pod_token_expiration(config, pod)
                .unwrap_or(sa.token_expiration.unwrap_or(default_expiration)),
            mount_path: config.token_mount_path.clone(),
            volume_name: IRSA_VOLUME_NAME.to_owned(),
            token_path: IRSA_TOKEN_PATH.to_owned(),
            containers_to_skip,
        })
    }

    fn method(&self) -> InjectionMethod {
        match self.credentials {
            Credentials::WebIdentity { .. } => InjectionMethod::StsWebIdentity,
            Credentials::ContainerCredentials { .. } => InjectionMethod::ContainerCredentials,
        }
    }

    /// Label op, volume op, then the full container lists (getPodSpecPatch upstream).
    fn patch(&self, pod: &PodView<'_>, config: &WebhookConfig) -> Patch {
        let mut ops = Vec::new();
        if let Credentials::ContainerCredentials { .. } = self.credentials {
            let (key, value) = POD_IDENTITY_LABEL;
            ops.push(if pod.has_labels {
                add(&["metadata", "labels", key], json!(value))
            } else {
                add(&["metadata", "labels"], json!({ key: value }))
            });
        }
        let volume_exists = pod
            .volume_names
            .iter()
            .flatten()
            .any(|name| *name == self.volume_name);
        if !volume_exists {
            let volume = self.volume();
            ops.push(match pod.volume_names {
                None => add(&["spec", "volumes"], json!([volume])),
                Some(_) => add(&["spec", "volumes", "0"], volume),
            });
        }
        let token_file = self.token_file(pod);
        let rewrite = |containers: &[ContainerView<'_>]| -> Value {
            containers
                .iter()
                .map(|c| Value::Object(self.container(c, &token_file, config)))
                .collect()
        };
        ops.push(add(&["spec", "containers"], rewrite(&pod.containers)));
        if !pod.init_containers.is_empty() {
            ops.push(add(
                &["spec", "initContainers"],
                rewrite(&pod.init_containers),
            ));
        }
        Patch(ops)
    }

    fn volume(&self) -> Value {
        json!({
            "name": self.volume_name,
            "projected": {"sources": [{"serviceAccountToken": {
                "audience": self.audience,
                "expirationSeconds": self.token_expiration,
                "path": self.token_path,
            }}]},
        })
    }

    /// Token file path for the env var; Windows pods get `C:\...` (the mount stays Unix-style).
    fn token_file(&self, pod: &PodView<'_>) -> String {
        let path = join_path(&self.mount_path, &self.token_path);
        let windows = ["kubernetes.io/os", "beta.kubernetes.io/os"]
            .iter()
            .any(|key| {
                pod.node_selector
                    .get(*key)
                    .is_some_and(|os| os == "windows")
            });
        if windows {
            format!("C:{}", path.replace('/', "\\"))
        } else {
            path
        }
    }

    /// One container after injection (addEnvToContainer upstream); skipped ones stay as is.
    fn container(
        &self,
        c: &ContainerView<'_>,
        token_file: &str,
        config: &WebhookConfig,
    ) -> Map<String, Value> {
        let (region, endpoints) = (config.aws_default_region.as_str(), &config.endpoints);
        let mut out = c.raw.clone();
        if self.containers_to_skip.contains(&c.name) {
            return out;
        }
        let has = |names: &[&str]| c.env_names.iter().any(|n| names.contains(&n.as_str()));
        let (pair_keys, pair_values) = match &self.credentials {
            Credentials::WebIdentity { role_arn } => (
                [ENV_ROLE_ARN, ENV_WEB_IDENTITY_TOKEN_FILE],
                [role_arn.as_str(), token_file],
            ),
            Credentials::ContainerCredentials { full_uri } => (
                [ENV_FULL_URI, ENV_AUTHORIZATION_TOKEN_FILE],
                [full_uri.as_str(), token_file],
            ),
        };
        let pair_defined = has(&pair_keys);
        let region_defined = has(&[ENV_REGION, ENV_DEFAULT_REGION]);
        let sts_defined = has(&[ENV_REGIONAL_STS]);
        let endpoints: Vec<(&str, &str)> =
            endpoints.env().filter(|(name, _)| !has(&[name])).collect();
        if pair_defined && region_defined && sts_defined && endpoints.is_empty() {
            return out;
        }
        let mut env = Vec::new();
        if !sts_defined && self.regional_sts {
            env.push((ENV_REGIONAL_STS, "regional"));
        }
        if !region_defined && !region.is_empty() {
            env.extend([(ENV_DEFAULT_REGION, region), (ENV_REGION, region)]);
        }
        if !pair_defined {
            env.extend(pair_keys.into_iter().zip(pair_values));
        }
        env.extend(endpoints);
        append(
            &mut out,
            "env",
            env.into_iter()
                .map(|(name, value)| json!({"name": name, "value": value})),
        );
        if !c.mount_names.contains(&self.volume_name) {
            let mount =
                json!({"name": self.volume_name, "readOnly": true, "mountPath": self.mount_path});
            append(&mut out, "volumeMounts", [mount]);
        }
        out
    }
}

/// Appends to a list field of a container, creating it when absent or null.
fn append(container: &mut Map<String, Value>, key: &str, items: impl IntoIterator<Item = Value>) {
    let mut items = items.into_iter().peekable();
    if items.peek().is_none() {
        return;
    }
    let list = container.entry(key).or_insert(Value::Null);
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    if let Value::Array(list) = list {
        list.extend(items);
    }
}

fn add(tokens: &[&str], value: Value) -> PatchOperation {
    PatchOperation::Add(AddOperation {
        path: PointerBuf::from_tokens(tokens.iter().copied()),
        value,
    })
}

/// The pod's `<prefix>/token-expiration` annotation, clamped; invalid values are ignored.
fn pod_token_expiration(config: &WebhookConfig, pod: &PodView<'_>) -> Option<i64> {
    let key = format!("{}/{TOKEN_EXPIRATION_ANNOTATION}", config.annotation_prefix);
    pod.annotations
        .get(&key)
        .and_then(|v| parse_token_expiration(v))
}

/// The pod's `<prefix>/skip-containers` CSV; a malformed value skips nothing.
fn containers_to_skip(config: &WebhookConfig, pod: &PodView<'_>) -> HashSet<String> {
    let key = format!("{}/{SKIP_CONTAINERS_ANNOTATION}", config.annotation_prefix);
    pod.annotations
        .get(&key)
        .and_then(|value| first_csv_record(value))
        .map(|names| names.into_iter().collect())
        .unwrap_or_default()
}
