//! `podpass manifests`: the install of podpass into a Kubernetes cluster, as one ordered,
//! multi-document YAML stream for `kubectl apply -f -`. Every document is built here from the
//! flags; `deploy/podpass.yaml` is the default rendering, kept equal by a test.

use std::fmt::Write as _;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

/// Options of `podpass manifests`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ManifestsArgs {
    /// Namespace podpass runs in (created by the manifests)
    #[arg(long, env = "PODPASS_MANIFESTS_NAMESPACE", default_value = "podpass")]
    pub namespace: String,

    /// Container image of every component
    #[arg(long, env = "PODPASS_MANIFESTS_IMAGE", default_value = DEFAULT_IMAGE)]
    pub image: String,

    /// Which components to install: the API (STS, IAM, EKS, EKS Auth, S3, issuer), the
    /// admission webhook, the node agent
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_COMPONENTS",
        value_enum,
        value_delimiter = ',',
        default_value = "api,webhook,agent"
    )]
    pub components: Vec<Component>,

    /// Replicas of the API (more than one needs PostgreSQL) and of the webhook
    #[arg(long, env = "PODPASS_MANIFESTS_REPLICAS", default_value_t = 2)]
    pub replicas: u16,

    /// PostgreSQL URL of the API's store, written into a Secret of the install; without it the
    /// API reads the key `url` of the existing Secret `--database-secret`
    #[arg(long, env = "PODPASS_MANIFESTS_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Secret holding the store's URL under the key `url`
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_DATABASE_SECRET",
        default_value = "podpass-database"
    )]
    pub database_secret: String,

    /// URL pods and agents reach the API at [default: http://podpass-api.NAMESPACE.svc:7700]
    #[arg(long, env = "PODPASS_MANIFESTS_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// URL pods reach the S3 endpoint at [default: http://podpass-s3.NAMESPACE.svc:7702, or
    /// http://podpass-api.NAMESPACE.svc:7702 with --s3-upstream-url]
    #[arg(long, env = "PODPASS_MANIFESTS_S3_PUBLIC_URL")]
    pub s3_public_url: Option<String>,

    /// Keep S3 objects in this S3-compatible endpoint (AWS S3, MinIO, Ceph), reached with the
    /// keys of the Secret --s3-upstream-secret: the API replicas then serve S3 themselves,
    /// all alike. Without it, objects stay on a PersistentVolume of one StatefulSet pod,
    /// `podpass-s3`, the only writer of the embedded object store
    #[arg(long, env = "PODPASS_MANIFESTS_S3_UPSTREAM_URL", value_name = "URL")]
    pub s3_upstream_url: Option<String>,

    /// Secret holding the upstream's keys under `access-key-id` and `secret-access-key`
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_S3_UPSTREAM_SECRET",
        default_value = "podpass-s3-upstream"
    )]
    pub s3_upstream_secret: String,

    /// Size of the PersistentVolumeClaim of the embedded object store (without
    /// --s3-upstream-url), from the cluster's default StorageClass
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_S3_STORAGE_SIZE",
        default_value = "10Gi"
    )]
    pub s3_storage_size: String,

    /// Name of the cluster in podpass (EKS's cluster name: ARNs, the agent's EKS Auth calls)
    #[arg(long, env = "PODPASS_MANIFESTS_CLUSTER", default_value = "podpass")]
    pub cluster: String,

    /// The cluster's ServiceAccount issuer, the `iss` of its tokens (`kubectl get --raw
    /// /.well-known/openid-configuration`): podpass verifies the pods' tokens as this issuer's
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_CLUSTER_ISSUER_URL",
        default_value = "https://kubernetes.default.svc.cluster.local"
    )]
    pub cluster_issuer_url: String,

    /// The cluster's ServiceAccount signing keys (`kubectl get --raw /openid/v1/jwks`), put in a
    /// ConfigMap of the install: needed unless the issuer publishes them where podpass can
    /// fetch them (EKS, or an issuer published for IRSA). Render again after a key rotation
    #[arg(long, env = "PODPASS_MANIFESTS_CLUSTER_JWKS_FILE")]
    pub cluster_jwks_file: Option<std::path::PathBuf>,

    /// Also ask the cluster's kube-apiserver about each token (TokenReview), which refuses
    /// tokens of deleted pods and ServiceAccounts: the API gets its ServiceAccount token and
    /// the right to create TokenReviews, nothing more
    #[arg(long, env = "PODPASS_MANIFESTS_CLUSTER_TOKENREVIEW")]
    pub cluster_tokenreview: bool,

    /// Broker mode: the API hands Pod Identity pods sessions of real AWS roles, calling STS as
    /// this IAM role, which it takes with IRSA (its projected token for `sts.amazonaws.com`;
    /// the cluster's issuer must be an IAM OIDC provider: `podpass issuer publish`). Set
    /// --account-id to the roles' account
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_BROKER_ROLE_ARN",
        value_name = "ROLE_ARN"
    )]
    pub broker_role_arn: Option<String>,
    /// AWS region podpass reports
    #[arg(long, env = "PODPASS_MANIFESTS_REGION", default_value = "us-east-1")]
    pub region: String,

    /// AWS account id podpass acts as
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_ACCOUNT_ID",
        default_value = "000000000000"
    )]
    pub account_id: String,

    /// Where the webhook's serving certificate comes from: cert-manager (which must be
    /// installed), or podpass's own Job and daily CronJob (`podpass webhook certificate`)
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_CERTIFICATES",
        value_enum,
        default_value = "cert-manager"
    )]
    pub certificates: Certificates,

    /// What the API server does when the webhook cannot be reached: `ignore` admits the pod
    /// without credentials (the reference webhook's choice, silent), `fail` refuses it (visible,
    /// but pod creation outside the excluded namespaces stops while no webhook answers)
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_FAILURE_POLICY",
        value_enum,
        default_value = "ignore"
    )]
    pub failure_policy: FailurePolicy,

    /// Port of the API's STS, IAM, EKS, EKS Auth and issuer listener (container and Service)
    #[arg(long, env = "PODPASS_MANIFESTS_API_PORT", default_value_t = 7700)]
    pub api_port: u16,

    /// Port of the S3 listener (container and Service)
    #[arg(long, env = "PODPASS_MANIFESTS_S3_PORT", default_value_t = 7702)]
    pub s3_port: u16,

    /// Port of the `podpass-s3` pod's own API listener, where its probes look (no Service
    /// exposes it)
    #[arg(long, env = "PODPASS_MANIFESTS_S3_PROBE_PORT", default_value_t = 7700)]
    pub s3_probe_port: u16,

    /// Addresses the node agent serves on, put on a link of each node by its init container
    /// (EKS's by default, which the SDKs know; others are injected into pods by the webhook)
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_AGENT_BIND_HOSTS",
        value_delimiter = ',',
        default_value = "169.254.170.23,[fd00:ec2::23]"
    )]
    pub agent_bind_hosts: Vec<String>,

    /// Port of the node agent on EKS's link-local addresses (the SDKs' default is 80; another
    /// port frees the node's port 80, and the webhook then injects it into pods)
    #[arg(long, env = "PODPASS_MANIFESTS_AGENT_PORT", default_value_t = 80)]
    pub agent_port: u16,

    /// Port of the node agent's health probes (on the node's loopback)
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_AGENT_PROBE_PORT",
        default_value_t = 2703
    )]
    pub agent_probe_port: u16,

    /// Port of the node agent's Prometheus metrics
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_AGENT_METRICS_PORT",
        default_value_t = 2705
    )]
    pub agent_metrics_port: u16,

    /// Credential requests per second the node agent serves per address before answering 429
    /// (the reference agent's fixed 1000)
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_AGENT_MAX_REQUESTS_PER_SECOND",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub agent_max_requests_per_second: u32,

    /// Requests the node agent serves at once above that rate (the reference's 500)
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_AGENT_REQUEST_BURST",
        default_value_t = 500,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub agent_request_burst: u32,

    /// Port the webhook serves HTTPS on in its pod (its Service's port stays 443)
    #[arg(long, env = "PODPASS_MANIFESTS_WEBHOOK_PORT", default_value_t = 9443)]
    pub webhook_port: u16,

    /// Port of the webhook's Prometheus metrics in its pod
    #[arg(
        long,
        env = "PODPASS_MANIFESTS_WEBHOOK_METRICS_PORT",
        default_value_t = 9999
    )]
    pub webhook_metrics_port: u16,
}

/// `podpass manifests --help` examples.
pub(crate) const EXAMPLES: &str = "Examples:
  # Everything, over PostgreSQL, with cert-manager for the webhook's certificate
  kubectl create namespace podpass
  kubectl -n podpass create secret generic podpass-database --from-literal=url=postgres://podpass:secret@db/podpass
  kubectl apply -f <(podpass manifests)

  # A kind cluster: its own issuer's keys, the agent on port 8080 of each node
  podpass manifests --cluster kind --agent-port 8080 > podpass.yaml

  # Only the webhook and the agent, against an API you run elsewhere
  podpass manifests --components webhook,agent --public-url https://podpass.example.com

The rendered default is deploy/podpass.yaml in podpass's repository.";

/// The image `podpass manifests` installs by default: this build's version.
pub(crate) const DEFAULT_IMAGE: &str =
    concat!("ghcr.io/podpass/podpass:", env!("CARGO_PKG_VERSION"));

/// A component of the install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Component {
    /// STS, IAM, EKS, EKS Auth, S3 and the issuer: `podpass up` without a local node.
    Api,
    /// The mutating admission webhook.
    Webhook,
    /// The node agent, as a DaemonSet on the host network.
    Agent,
}

/// Who issues the webhook's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Certificates {
    /// A cert-manager Issuer and Certificate; cert-manager injects the caBundle.
    CertManager,
    /// A Job (and a daily CronJob renewing it) running `podpass webhook certificate`.
    SelfSigned,
}

/// `failurePolicy` of the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailurePolicy {
    /// Admit the pod unmutated.
    Ignore,
    /// Refuse the pod.
    Fail,
}

/// Where `podpass up` keeps its data directory: scratch in an API replica (the state is in
/// PostgreSQL), the PersistentVolume of the objects in `podpass-s3`.
const DATA_DIR: &str = "/var/lib/podpass";
/// Where the webhook reads its serving certificate.
const CERT_DIR: &str = "/etc/podpass/webhook-tls";
/// Secret cert-manager writes the webhook's certificate to.
const WEBHOOK_TLS_SECRET: &str = "podpass-webhook-tls";
/// The optional Secret holding the account root's access key.
const ADMIN_SECRET: &str = "podpass-admin";
/// Where the API reads the cluster's JWKS.
const JWKS_DIR: &str = "/etc/podpass/cluster";
/// Where the broker's IRSA token is projected, as the webhook projects it for other pods.
const BROKER_TOKEN_DIR: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
/// Where a component's own token (its web identity) is mounted.
const AWS_TOKEN_DIR: &str = "/var/run/secrets/podpass/serviceaccount";
/// EKS's node agent URL, which the SDKs use when nothing else is said.
const EKS_AGENT_URL: &str = "http://169.254.170.23/v1/credentials";
/// Namespaces the webhook never mutates besides podpass's own: the cluster's system pods must
/// start even while the webhook cannot (with `--failure-policy fail`).
const SYSTEM_NAMESPACES: [&str; 3] = ["kube-system", "kube-node-lease", "kube-public"];

/// One document of the install and the comment printed above it.
struct Document {
    comment: &'static str,
    object: Value,
}

impl ManifestsArgs {
    fn has(&self, component: Component) -> bool {
        self.components.contains(&component)
    }

    fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| {
            format!(
                "http://podpass-api.{}.svc:{}",
                self.namespace, self.api_port
            )
        })
    }

    /// Where pods reach the node agent: its first address.
    fn agent_url(&self) -> String {
        let host = self.agent_bind_hosts.first().map_or("", String::as_str);
        match self.agent_port {
            80 => format!("http://{host}/v1/credentials"),
            port => format!("http://{host}:{port}/v1/credentials"),
        }
    }

    fn s3_url(&self) -> String {
        self.s3_public_url.clone().unwrap_or_else(|| {
            format!(
                "http://{}.{}.svc:{}",
                self.s3_server().service(),
                self.namespace,
                self.s3_port
            )
        })
    }

    /// Which pods serve S3.
    fn s3_server(&self) -> ApiPod {
        if self.s3_upstream_url.is_some() {
            ApiPod::Api
        } else {
            ApiPod::ObjectStore
        }
    }

    fn labels(&self, component: &str) -> Value {
        json!({
            "app.kubernetes.io/name": "podpass",
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": "podpass",
            "app.kubernetes.io/version": env!("CARGO_PKG_VERSION"),
        })
    }

    fn selector(component: &str) -> Value {
        json!({"app.kubernetes.io/name": "podpass", "app.kubernetes.io/component": component})
    }

    fn metadata(&self, name: &str, component: &str) -> Value {
        json!({"name": name, "namespace": self.namespace, "labels": self.labels(component)})
    }

    fn cluster_metadata(&self, name: &str, component: &str) -> Value {
        json!({"name": name, "labels": self.labels(component)})
    }

    /// The securityContext of a container that needs nothing from the node.
    fn restricted() -> Value {
        json!({
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
        })
    }

    fn pod_security() -> Value {
        json!({
            "runAsNonRoot": true,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        })
    }

    /// A component's own token for STS (its web identity), which one of podpass's roles trusts.
    fn aws_token_volume() -> Value {
        json!({"name": "aws-token", "projected": {"sources": [{"serviceAccountToken": {
            "audience": "sts.amazonaws.com",
            "expirationSeconds": 86400,
            "path": "token",
        }}]}})
    }

    fn env(pairs: &[(&str, String)]) -> Value {
        pairs
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect()
    }

    fn namespace(&self) -> Document {
        // The agent needs the host network and NET_ADMIN; everything else fits `restricted`.
        let level = if self.has(Component::Agent) {
            "privileged"
        } else {
            "restricted"
        };
        Document {
            comment: "podpass's namespace. The node agent needs the host network, hence its Pod Security level.",
            object: json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": self.namespace,
                    "labels": {
                        "app.kubernetes.io/part-of": "podpass",
                        "pod-security.kubernetes.io/enforce": level,
                    },
                },
            }),
        }
    }

    fn service_account(&self, component: &str, automount: bool) -> Document {
        Document {
            comment: "",
            object: json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": self.metadata(&component_account(component), component),
                "automountServiceAccountToken": automount,
            }),
        }
    }

    fn database_secret(&self, url: &str) -> Document {
        Document {
            comment: "The API's store. Keep this file out of version control, or create the Secret yourself and pass --database-secret.",
            object: json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": self.metadata(&self.database_secret, "api"),
                "type": "Opaque",
                "stringData": {"url": url},
            }),
        }
    }

    fn api_service(&self) -> Document {
        let http =
            json!({"name": "http", "port": self.api_port, "targetPort": "http", "protocol": "TCP"});
        let (comment, ports) = match self.s3_server() {
            ApiPod::Api => (
                "STS, IAM, EKS, EKS Auth and the issuer on the port named http; S3 on the port named s3.",
                json!([http, self.s3_service_port()]),
            ),
            ApiPod::ObjectStore => (
                "STS, IAM, EKS, EKS Auth and the issuer; S3 is Service/podpass-s3.",
                json!([http]),
            ),
        };
        Document {
            comment,
            object: json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": self.metadata("podpass-api", "api"),
                "spec": {"selector": Self::selector("api"), "ports": ports},
            }),
        }
    }

    fn s3_service_port(&self) -> Value {
        json!({"name": "s3", "port": self.s3_port, "targetPort": "s3", "protocol": "TCP"})
    }

    fn s3_service(&self) -> Document {
        Document {
            comment: "S3, served by the object store's one pod.",
            object: json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": self.metadata("podpass-s3", "s3"),
                "spec": {"selector": Self::selector("s3"), "ports": [self.s3_service_port()]},
            }),
        }
    }

    /// A role with `rules` and its binding to the ServiceAccount `podpass-<name>`'s namesake:
    /// a Role in podpass's namespace, or a ClusterRole.
    fn grant(
        &self,
        scope: Scope,
        name: &str,
        component: &str,
        comment: &'static str,
        rules: Value,
    ) -> [Document; 2] {
        let (role, binding, metadata) = match scope {
            Scope::Namespace => ("Role", "RoleBinding", self.metadata(name, component)),
            Scope::Cluster => (
                "ClusterRole",
                "ClusterRoleBinding",
                self.cluster_metadata(name, component),
            ),
        };
        [
            Document {
                comment,
                object: json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": role,
                    "metadata": metadata,
                    "rules": rules,
                }),
            },
            Document {
                comment: "",
                object: json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": binding,
                    "metadata": metadata,
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role, "name": name},
                    "subjects": [{"kind": "ServiceAccount", "name": component_account(component), "namespace": self.namespace}],
                }),
            },
        ]
    }

    /// The API's right to ask the apiserver about tokens, and no other.
    fn api_tokenreview_rbac(&self) -> [Document; 2] {
        self.grant(
            Scope::Cluster,
            "podpass-api-tokenreview",
            "api",
            "The API reviews the cluster's tokens (--cluster-tokenreview): TokenReview only.",
            json!([{"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]}]),
        )
    }

    fn jwks_config_map(&self, jwks: &str) -> Document {
        Document {
            comment: "The cluster's ServiceAccount signing keys, which verify its pods' tokens.",
            object: json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": self.metadata("podpass-cluster-jwks", "api"),
                "data": {"jwks.json": jwks},
            }),
        }
    }

    /// The `podpass up` container of `pod` and the pod's volumes (an object store pod's data
    /// volume is its claim, not among them).
    fn up_container(&self, with_jwks: bool, pod: ApiPod) -> (Value, Vec<Value>) {
        let mut settings = vec![
            (
                "PODPASS_CLUSTER_ISSUER_URL",
                self.cluster_issuer_url.clone(),
            ),
            (
                "PODPASS_NODE_SERVICE_ACCOUNT",
                format!("{}:podpass-agent", self.namespace),
            ),
            (
                "PODPASS_WEBHOOK_SERVICE_ACCOUNT",
                format!("{}:podpass-webhook", self.namespace),
            ),
        ];
        if with_jwks {
            settings.push(("PODPASS_CLUSTER_JWKS_FILE", format!("{JWKS_DIR}/jwks.json")));
        }
        if self.cluster_tokenreview {
            settings.push(("PODPASS_CLUSTER_TOKENREVIEW", "true".to_owned()));
        }
        let mut mounts = vec![json!({"name": "data", "mountPath": DATA_DIR})];
        let mut volumes = Vec::new();
        if pod == ApiPod::Api {
            // Scratch only: the state is in PostgreSQL, objects upstream or in podpass-s3.
            volumes.push(json!({"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}));
        }
        let mut aws_identity = Vec::new();
        // The broker serves EKS Auth, which the object store pod is not asked for.
        if let (Some(role_arn), ApiPod::Api) = (&self.broker_role_arn, pod) {
            settings.push(("PODPASS_BROKER", "true".to_owned()));
            // IRSA, written out as the webhook would inject it (the webhook does not mutate
            // podpass's own namespace).
            aws_identity = vec![
                ("AWS_ROLE_ARN", role_arn.clone()),
                (
                    "AWS_WEB_IDENTITY_TOKEN_FILE",
                    format!("{BROKER_TOKEN_DIR}/token"),
                ),
                ("AWS_REGION", self.region.clone()),
            ];
            mounts.push(
                json!({"name": "aws-iam-token", "mountPath": BROKER_TOKEN_DIR, "readOnly": true}),
            );
            volumes.push(json!({"name": "aws-iam-token", "projected": {"sources": [
                {"serviceAccountToken": {"audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": "token"}}
            ]}}));
        }
        if with_jwks {
            mounts.push(json!({"name": "cluster-jwks", "mountPath": JWKS_DIR, "readOnly": true}));
            volumes.push(
                json!({"name": "cluster-jwks", "configMap": {"name": "podpass-cluster-jwks"}}),
            );
        }
        let serves_s3 = pod == self.s3_server();
        let (http_port, s3_listen) = match pod {
            ApiPod::Api if serves_s3 => (self.api_port, format!("0.0.0.0:{}", self.s3_port)),
            ApiPod::Api => (self.api_port, "off".to_owned()),
            ApiPod::ObjectStore => (self.s3_probe_port, format!("0.0.0.0:{}", self.s3_port)),
        };
        let mut env = Self::env(&[
            ("PODPASS_DATA_DIR", DATA_DIR.to_owned()),
            ("PODPASS_LISTEN", format!("0.0.0.0:{http_port}")),
            ("PODPASS_S3_LISTEN", s3_listen),
            ("PODPASS_PUBLIC_URL", self.public_url()),
            ("PODPASS_S3_PUBLIC_URL", self.s3_url()),
            ("PODPASS_LOCAL_NODE", "false".to_owned()),
            ("PODPASS_NO_PROFILE", "true".to_owned()),
            ("PODPASS_ACCOUNT_ID", self.account_id.clone()),
            ("PODPASS_REGION", self.region.clone()),
            ("PODPASS_CLUSTER", self.cluster.clone()),
            ("PODPASS_LOG_FORMAT", "json".to_owned()),
        ])
        .as_array()
        .cloned()
        .unwrap_or_default();
        env.extend(Self::env(&settings).as_array().cloned().unwrap_or_default());
        env.extend(
            Self::env(&aws_identity)
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        env.insert(
            0,
            json!({"name": "PODPASS_DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": self.database_secret, "key": "url"}}}),
        );
        // The account root's key at first start, when the operator provides one: whichever pod
        // starts first creates it.
        for (name, key) in [
            ("PODPASS_ADMIN_ACCESS_KEY_ID", "access-key-id"),
            ("PODPASS_ADMIN_SECRET_ACCESS_KEY", "secret-access-key"),
        ] {
            env.push(json!({"name": name, "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET, "key": key, "optional": true}}}));
        }
        let mut ports =
            vec![json!({"name": "http", "containerPort": http_port, "protocol": "TCP"})];
        if serves_s3 {
            if let Some(url) = &self.s3_upstream_url {
                env.push(json!({"name": "PODPASS_S3_UPSTREAM_URL", "value": url}));
                for (name, key) in [
                    ("PODPASS_S3_UPSTREAM_ACCESS_KEY_ID", "access-key-id"),
                    ("PODPASS_S3_UPSTREAM_SECRET_ACCESS_KEY", "secret-access-key"),
                ] {
                    env.push(json!({"name": name, "valueFrom": {"secretKeyRef": {"name": self.s3_upstream_secret, "key": key}}}));
                }
            }
            ports.push(json!({"name": "s3", "containerPort": self.s3_port, "protocol": "TCP"}));
        }
        let container = json!({
            "name": pod.component(),
            "image": self.image,
            "args": ["up"],
            "env": env,
            "ports": ports,
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 6},
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
            "securityContext": Self::restricted(),
            "volumeMounts": mounts,
        });
        (container, volumes)
    }

    /// The pod template of `pod`'s workload.
    fn up_template(&self, with_jwks: bool, pod: ApiPod) -> Value {
        let (container, volumes) = self.up_container(with_jwks, pod);
        json!({
            "metadata": {"labels": self.labels(pod.component())},
            "spec": {
                "serviceAccountName": "podpass-api",
                // Its own token only to call TokenReview.
                "automountServiceAccountToken": self.cluster_tokenreview,
                // Kubernetes would put PODPASS_API_PORT=tcp://... into the env.
                "enableServiceLinks": false,
                "securityContext": Self::pod_security(),
                "containers": [container],
                "volumes": volumes,
            },
        })
    }

    fn api_deployment(&self, with_jwks: bool) -> Document {
        Document {
            comment: "The API: `podpass up` without a local node, its state in PostgreSQL, so replicas share it.",
            object: json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": self.metadata("podpass-api", "api"),
                "spec": {
                    "replicas": self.replicas,
                    "selector": {"matchLabels": Self::selector("api")},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                    "template": self.up_template(with_jwks, ApiPod::Api),
                },
            }),
        }
    }

    fn object_store(&self, with_jwks: bool) -> Document {
        Document {
            comment: "S3's embedded object store: one pod, the only writer of its PersistentVolume; \
                      `--s3-upstream-url` keeps objects elsewhere and lets every API replica serve S3.",
            object: json!({
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": self.metadata("podpass-s3", "s3"),
                "spec": {
                    "replicas": 1,
                    "serviceName": "podpass-s3",
                    "selector": {"matchLabels": Self::selector("s3")},
                    "template": self.up_template(with_jwks, ApiPod::ObjectStore),
                    "volumeClaimTemplates": [{
                        "metadata": {"name": "data", "labels": self.labels("s3")},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": self.s3_storage_size}},
                        },
                    }],
                },
            }),
        }
    }

    fn disruption_budget(&self, component: &str) -> Document {
        Document {
            comment: "",
            object: json!({
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": self.metadata(&format!("podpass-{component}"), component),
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": Self::selector(component)}},
            }),
        }
    }

    fn webhook_rbac(&self) -> [Document; 2] {
        self.grant(
            Scope::Cluster,
            "podpass-webhook",
            "webhook",
            "The webhook reads ServiceAccounts (their role annotations); nothing else.",
            json!([{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "list", "watch"]}]),
        )
    }

    fn webhook_certificate(&self) -> [Document; 2] {
        let service = format!("podpass-webhook.{}.svc", self.namespace);
        [
            Document {
                comment: "The webhook's serving certificate, from cert-manager (which must be installed), which also writes the caBundle below.",
                object: json!({
                    "apiVersion": "cert-manager.io/v1",
                    "kind": "Issuer",
                    "metadata": self.metadata("podpass-selfsigned", "webhook"),
                    "spec": {"selfSigned": {}},
                }),
            },
            Document {
                comment: "",
                object: json!({
                    "apiVersion": "cert-manager.io/v1",
                    "kind": "Certificate",
                    "metadata": self.metadata("podpass-webhook", "webhook"),
                    "spec": {
                        "secretName": WEBHOOK_TLS_SECRET,
                        "commonName": service,
                        "dnsNames": [
                            "podpass-webhook".to_owned(),
                            format!("podpass-webhook.{}", self.namespace),
                            service.clone(),
                            format!("{service}.cluster.local"),
                        ],
                        "duration": "2160h",
                        "renewBefore": "360h",
                        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                        "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": "podpass-selfsigned"},
                    },
                }),
            },
        ]
    }

    /// `podpass webhook certificate` as a Job at install and a daily CronJob that renews the
    /// certificate 30 days before it expires, with only the access they need.
    fn certificate_jobs(&self) -> [Document; 7] {
        const NAME: &str = "podpass-webhook-certificate";
        let pod = json!({
            "metadata": {"labels": self.labels("webhook-certificate")},
            "spec": {
                "serviceAccountName": NAME,
                "enableServiceLinks": false,
                "restartPolicy": "OnFailure",
                "securityContext": Self::pod_security(),
                "containers": [{
                    "name": "certificate",
                    "image": self.image,
                    "args": ["webhook", "certificate"],
                    "env": Self::env(&[
                        ("PODPASS_WEBHOOK_CERTIFICATE_NAMESPACE", self.namespace.clone()),
                        ("PODPASS_LOG_FORMAT", "json".to_owned()),
                    ]),
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
                    "securityContext": Self::restricted(),
                }],
            },
        });
        let job_spec = json!({"backoffLimit": 6, "ttlSecondsAfterFinished": 3600, "template": pod});
        let [secrets, secrets_binding] = self.grant(
            Scope::Namespace,
            NAME,
            "webhook-certificate",
            "The certificate Job writes the webhook's Secret (a Secret's create cannot be limited to one name).",
            json!([
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
                {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [WEBHOOK_TLS_SECRET], "verbs": ["get", "update"]},
            ]),
        );
        let [configuration, configuration_binding] = self.grant(
            Scope::Cluster,
            NAME,
            "webhook-certificate",
            "And sets the caBundle of podpass's webhook configuration, and of no other.",
            json!([{"apiGroups": ["admissionregistration.k8s.io"], "resources": ["mutatingwebhookconfigurations"], "resourceNames": ["podpass-webhook"], "verbs": ["get", "patch"]}]),
        );
        [
            self.service_account("webhook-certificate", true),
            secrets,
            secrets_binding,
            configuration,
            configuration_binding,
            Document {
                comment: "The webhook's certificate at install; the webhook starts once its Secret exists.",
                object: json!({
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": self.metadata(NAME, "webhook-certificate"),
                    "spec": job_spec,
                }),
            },
            Document {
                comment: "Renewed 30 days before it expires; the webhook reloads it from its Secret.",
                object: json!({
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "metadata": self.metadata(&format!("{NAME}-renewal"), "webhook-certificate"),
                    "spec": {
                        "schedule": "17 3 * * *",
                        "concurrencyPolicy": "Forbid",
                        "jobTemplate": {"spec": job_spec},
                    },
                }),
            },
        ]
    }

    fn webhook_service(&self) -> Document {
        Document {
            comment: "",
            object: json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": self.metadata("podpass-webhook", "webhook"),
                "spec": {
                    "selector": Self::selector("webhook"),
                    "ports": [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}],
                },
            }),
        }
    }

    fn webhook_deployment(&self) -> Document {
        let mut env = vec![
            ("PODPASS_WEBHOOK_PORT", self.webhook_port.to_string()),
            (
                "PODPASS_WEBHOOK_METRICS_PORT",
                self.webhook_metrics_port.to_string(),
            ),
            ("PODPASS_WEBHOOK_TLS_CERT", format!("{CERT_DIR}/tls.crt")),
            ("PODPASS_WEBHOOK_TLS_KEY", format!("{CERT_DIR}/tls.key")),
            ("PODPASS_WEBHOOK_AWS_DEFAULT_REGION", self.region.clone()),
            ("PODPASS_LOG_FORMAT", "json".to_owned()),
        ];
        if self.agent_url() != EKS_AGENT_URL {
            env.push((
                "PODPASS_WEBHOOK_CONTAINER_CREDENTIALS_FULL_URI",
                self.agent_url(),
            ));
        }
        if self.has(Component::Api) {
            // podpass stands in for AWS: pods' SDKs must call it, not AWS.
            env.push(("PODPASS_WEBHOOK_STS_ENDPOINT_URL", self.public_url()));
            env.push(("PODPASS_WEBHOOK_S3_ENDPOINT_URL", self.s3_url()));
        }
        // Which ServiceAccounts have Pod Identity: the EKS API's associations, listed as the
        // webhook's own role (its ServiceAccount's token, which that role trusts).
        env.extend([
            ("PODPASS_WEBHOOK_POD_IDENTITY_CLUSTER", self.cluster.clone()),
            (
                "AWS_ROLE_ARN",
                format!(
                    "arn:aws:iam::{}:role/podpass-{}-webhook",
                    self.account_id, self.cluster
                ),
            ),
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                format!("{AWS_TOKEN_DIR}/token"),
            ),
            ("AWS_ENDPOINT_URL", self.public_url()),
            ("AWS_REGION", self.region.clone()),
        ]);
        Document {
            comment: "The admission webhook: injects the IRSA token and env, and the Pod Identity env, into new pods.",
            object: json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": self.metadata("podpass-webhook", "webhook"),
                "spec": {
                    "replicas": self.replicas,
                    "selector": {"matchLabels": Self::selector("webhook")},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                    "template": {
                        "metadata": {"labels": self.labels("webhook")},
                        "spec": {
                            "serviceAccountName": "podpass-webhook",
                            // Kubernetes would put PODPASS_WEBHOOK_PORT=tcp://... into the env,
                            // which is the webhook's --port.
                            "enableServiceLinks": false,
                            "securityContext": Self::pod_security(),
                            "containers": [{
                                "name": "webhook",
                                "image": self.image,
                                "args": ["webhook"],
                                "env": Self::env(&env),
                                "ports": [
                                    {"name": "https", "containerPort": self.webhook_port, "protocol": "TCP"},
                                    {"name": "metrics", "containerPort": self.webhook_metrics_port, "protocol": "TCP"},
                                ],
                                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "https", "scheme": "HTTPS"}, "periodSeconds": 5},
                                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "https", "scheme": "HTTPS"}, "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 6},
                                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                                "securityContext": Self::restricted(),
                                "volumeMounts": [
                                    {"name": "tls", "mountPath": CERT_DIR, "readOnly": true},
                                    {"name": "aws-token", "mountPath": AWS_TOKEN_DIR, "readOnly": true},
                                ],
                            }],
                            "volumes": [
                                {"name": "tls", "secret": {"secretName": WEBHOOK_TLS_SECRET}},
                                Self::aws_token_volume(),
                            ],
                        },
                    },
                },
            }),
        }
    }

    fn mutating_webhook(&self) -> Document {
        let failure_policy = match self.failure_policy {
            FailurePolicy::Ignore => "Ignore",
            FailurePolicy::Fail => "Fail",
        };
        let mut excluded: Vec<&str> = SYSTEM_NAMESPACES.to_vec();
        excluded.push(&self.namespace);
        let mut metadata = self.cluster_metadata("podpass-webhook", "webhook");
        if self.certificates == Certificates::CertManager {
            metadata["annotations"] = json!({
                "cert-manager.io/inject-ca-from": format!("{}/podpass-webhook", self.namespace),
            });
        }
        Document {
            comment: "Pods are mutated on CREATE, but in podpass's own and the system namespaces and those labelled eks.amazonaws.com/skip-pod-identity-webhook, as the reference webhook.",
            object: json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": metadata,
                "webhooks": [{
                    "name": "pod-identity-webhook.podpass.io",
                    "admissionReviewVersions": ["v1", "v1beta1"],
                    "clientConfig": {"service": {"name": "podpass-webhook", "namespace": self.namespace, "path": "/mutate", "port": 443}},
                    "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"], "scope": "Namespaced"}],
                    "failurePolicy": failure_policy,
                    "matchPolicy": "Equivalent",
                    "reinvocationPolicy": "IfNeeded",
                    "sideEffects": "None",
                    "timeoutSeconds": 10,
                    "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": excluded}]},
                    "objectSelector": {"matchExpressions": [{"key": "eks.amazonaws.com/skip-pod-identity-webhook", "operator": "DoesNotExist"}]},
                }],
            }),
        }
    }

    fn agent_daemonset(&self) -> Document {
        let env = Self::env(&[
            ("PODPASS_AGENT_CLUSTER_NAME", self.cluster.clone()),
            ("PODPASS_AGENT_ENDPOINT", self.public_url()),
            ("PODPASS_AGENT_REGION", self.region.clone()),
            ("PODPASS_AGENT_PORT", self.agent_port.to_string()),
            ("PODPASS_AGENT_BIND_HOSTS", self.agent_bind_hosts.join(",")),
            (
                "PODPASS_AGENT_PROBE_PORT",
                self.agent_probe_port.to_string(),
            ),
            (
                "PODPASS_AGENT_METRICS_PORT",
                self.agent_metrics_port.to_string(),
            ),
            (
                "PODPASS_AGENT_MAX_REQUESTS_PER_SECOND",
                self.agent_max_requests_per_second.to_string(),
            ),
            (
                "PODPASS_AGENT_REQUEST_BURST",
                self.agent_request_burst.to_string(),
            ),
            ("PODPASS_LOG_FORMAT", "json".to_owned()),
            // The agent's own identity: its ServiceAccount's token, which the node role trusts.
            (
                "AWS_ROLE_ARN",
                format!(
                    "arn:aws:iam::{}:role/podpass-{}-node",
                    self.account_id, self.cluster
                ),
            ),
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                format!("{AWS_TOKEN_DIR}/token"),
            ),
            ("AWS_ENDPOINT_URL_STS", self.public_url()),
            ("AWS_REGION", self.region.clone()),
        ]);
        let mut capabilities = json!({"drop": ["ALL"]});
        if self.agent_port < 1024 {
            capabilities["add"] = json!(["NET_BIND_SERVICE"]);
        }
        Document {
            comment: "The node agent on every node's host network, at EKS's addresses. Its init container puts them on a dummy link, as the reference agent's.",
            object: json!({
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": self.metadata("podpass-agent", "agent"),
                "spec": {
                    "selector": {"matchLabels": Self::selector("agent")},
                    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
                    "template": {
                        "metadata": {"labels": self.labels("agent")},
                        "spec": {
                            "serviceAccountName": "podpass-agent",
                            "automountServiceAccountToken": false,
                            "enableServiceLinks": false,
                            "hostNetwork": true,
                            "dnsPolicy": "ClusterFirstWithHostNet",
                            "priorityClassName": "system-node-critical",
                            "tolerations": [{"operator": "Exists"}],
                            "nodeSelector": {"kubernetes.io/os": "linux"},
                            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                            "initContainers": [{
                                "name": "link",
                                "image": self.image,
                                "args": ["agent", "init", "--bind-hosts", self.agent_bind_hosts.join(",")],
                                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
                                "securityContext": {
                                    "allowPrivilegeEscalation": false,
                                    "readOnlyRootFilesystem": true,
                                    "runAsUser": 0,
                                    "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]},
                                },
                            }],
                            "containers": [{
                                "name": "agent",
                                "image": self.image,
                                "args": ["agent"],
                                "env": env,
                                "ports": [
                                    {"name": "credentials", "containerPort": self.agent_port, "protocol": "TCP"},
                                    {"name": "probes", "containerPort": self.agent_probe_port, "protocol": "TCP"},
                                    {"name": "metrics", "containerPort": self.agent_metrics_port, "protocol": "TCP"},
                                ],
                                // The probe server listens on the node's loopback only.
                                "readinessProbe": {"httpGet": {"host": "127.0.0.1", "path": "/readyz", "port": "probes"}, "periodSeconds": 5},
                                "livenessProbe": {"httpGet": {"host": "127.0.0.1", "path": "/healthz", "port": "probes"}, "initialDelaySeconds": 10, "periodSeconds": 10},
                                "resources": {"requests": {"cpu": "25m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
                                // Root only to bind a port below 1024 on the host network.
                                "securityContext": {
                                    "allowPrivilegeEscalation": false,
                                    "readOnlyRootFilesystem": true,
                                    "runAsUser": if self.agent_port < 1024 { 0 } else { 65532 },
                                    "capabilities": capabilities,
                                },
                                "volumeMounts": [{"name": "aws-token", "mountPath": AWS_TOKEN_DIR, "readOnly": true}],
                            }],
                            "volumes": [Self::aws_token_volume()],
                        },
                    },
                },
            }),
        }
    }

    /// Every document of the install, in the order `kubectl apply` needs them.
    fn documents(&self, jwks: Option<&str>) -> Vec<Document> {
        let mut docs = vec![self.namespace()];
        for component in [Component::Api, Component::Webhook, Component::Agent] {
            if self.has(component) {
                let name = component_name(component);
                docs.push(self.service_account(name, component == Component::Webhook));
            }
        }
        if self.has(Component::Api) {
            if let Some(url) = &self.database_url {
                docs.push(self.database_secret(url));
            }
            if let Some(jwks) = jwks {
                docs.push(self.jwks_config_map(jwks));
            }
            if self.cluster_tokenreview {
                docs.extend(self.api_tokenreview_rbac());
            }
            docs.push(self.api_service());
            docs.push(self.api_deployment(jwks.is_some()));
            docs.push(self.disruption_budget("api"));
            if self.s3_server() == ApiPod::ObjectStore {
                docs.push(self.s3_service());
                docs.push(self.object_store(jwks.is_some()));
            }
        }
        if self.has(Component::Webhook) {
            docs.extend(self.webhook_rbac());
            if self.certificates == Certificates::CertManager {
                docs.extend(self.webhook_certificate());
            }
            docs.push(self.webhook_service());
            docs.push(self.webhook_deployment());
            docs.push(self.disruption_budget("webhook"));
            docs.push(self.mutating_webhook());
            if self.certificates == Certificates::SelfSigned {
                // After the configuration, whose caBundle the Job sets.
                docs.extend(self.certificate_jobs());
            }
        }
        if self.has(Component::Agent) {
            docs.push(self.agent_daemonset());
        }
        docs
    }
}

/// The two pods that run `podpass up`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ApiPod {
    /// A replica of the API: STS, IAM, EKS, EKS Auth and the issuer, and S3 when its objects
    /// are upstream.
    Api,
    /// The one pod of the embedded object store, serving S3.
    ObjectStore,
}

impl ApiPod {
    fn component(self) -> &'static str {
        match self {
            ApiPod::Api => "api",
            ApiPod::ObjectStore => "s3",
        }
    }

    /// The Service of its component.
    fn service(self) -> &'static str {
        match self {
            ApiPod::Api => "podpass-api",
            ApiPod::ObjectStore => "podpass-s3",
        }
    }
}

/// Where a role applies.
#[derive(Clone, Copy)]
enum Scope {
    /// podpass's namespace.
    Namespace,
    /// The cluster.
    Cluster,
}

/// The ServiceAccount of a component: `podpass-<component>`.
fn component_account(component: &str) -> String {
    format!("podpass-{component}")
}

fn component_name(component: Component) -> &'static str {
    match component {
        Component::Api => "api",
        Component::Webhook => "webhook",
        Component::Agent => "agent",
    }
}

/// The install as YAML: a header saying how it was made, then each document after `---` with
/// its comment.
pub(crate) fn render(args: &ManifestsArgs) -> anyhow::Result<String> {
    let jwks = match &args.cluster_jwks_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            podpass_token::Jwks::from_json(&text)
                .with_context(|| format!("{} is not a JWKS", path.display()))?;
            Some(text)
        }
        None => None,
    };
    let mut out = String::new();
    writeln!(
        out,
        "# podpass {} install: `podpass manifests --help` says how to change it.",
        env!("CARGO_PKG_VERSION")
    )?;
    for document in args.documents(jwks.as_deref()) {
        out.push_str("---\n");
        if !document.comment.is_empty() {
            writeln!(out, "# {}", document.comment)?;
        }
        out.push_str(&serde_saphyr::to_string(&document.object)?);
    }
    Ok(out)
}

/// `podpass manifests`.
pub(crate) fn run(args: &ManifestsArgs) -> anyhow::Result<()> {
    use std::io::Write as _;
    if args.components.is_empty() {
        anyhow::bail!("--components names nothing to install");
    }
    let text = render(args)?;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}
