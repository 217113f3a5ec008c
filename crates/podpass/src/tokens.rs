//! `podpass token create|decode`: TokenRequest from the command line, and an honest decoder.

use std::io::Read;

use anyhow::Context;
use clap::Subcommand;
use podpass_store::StoreError;
use podpass_token::{ObjectRef, TokenRequest, Verifier, VerifyError};

use crate::cli::Global;
use crate::output::{Duration, describe_time};

/// Token commands.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Issue a token for a ServiceAccount, as `kubectl create token` does (printed on stdout)
    #[command(after_help = crate::examples::TOKEN_CREATE)]
    Create {
        /// Cluster that issues the token
        #[arg(long, env = "PODPASS_CLUSTER", default_value = "demo")]
        cluster: String,
        /// Namespace of the ServiceAccount
        #[arg(long, short = 'n', default_value = "default")]
        namespace: String,
        /// ServiceAccount name (it must exist: `podpass sa create NAME`)
        #[arg(long)]
        service_account: String,
        /// Audience; repeat for several [default: the cluster's issuer URL, as the API server]
        #[arg(long = "audience")]
        audiences: Vec<String>,
        /// Lifetime, e.g. 3600s, 10m, 1h30m, 24h (at least 10m)
        #[arg(long, default_value = "1h")]
        duration: Duration,
        /// Bind the token to this pod name, as a projected volume's token is
        #[arg(long)]
        pod: Option<String>,
        /// UID of the bound pod [default: a new UID]
        #[arg(long, requires = "pod")]
        pod_uid: Option<String>,
        /// Node name recorded with the pod binding
        #[arg(long)]
        node: Option<String>,
        /// Write the token to this file, without a trailing newline, as the kubelet writes a
        /// projected token (the file the SDKs read), instead of printing it
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
    },
    /// Show a token's header and claims, and verify its signature against its issuer's keys
    #[command(after_help = crate::examples::TOKEN_DECODE)]
    Decode {
        /// The token, a file holding it (a projected token's path), or `-` (the default) to
        /// read it from stdin
        #[arg(default_value = "-", value_name = "TOKEN|FILE|-")]
        token: String,
    },
}

pub(crate) async fn run(global: &Global, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            cluster,
            namespace,
            service_account,
            audiences,
            duration,
            pod,
            pod_uid,
            node,
            output,
        } => {
            let store = global.open_store().await?;
            let clusters = podpass_control::clusters::Clusters::new(store);
            let audiences = if audiences.is_empty() {
                vec![clusters.get(&cluster).await?.issuer_url]
            } else {
                audiences
            };
            let request = TokenRequest {
                audiences,
                expiration_seconds: Some(duration.seconds()),
                bound_pod: pod.map(|name| ObjectRef {
                    name,
                    uid: pod_uid.unwrap_or_else(podpass_control::ids::uid),
                }),
                bound_node: node.map(|name| ObjectRef {
                    name,
                    uid: podpass_control::ids::uid(),
                }),
            };
            let now = podpass_control::now();
            let (jwt, _) = clusters
                .request_token(&cluster, &namespace, &service_account, &request, now)
                .await
                .map_err(|e| match e {
                    podpass_control::clusters::ClusterError::Store(StoreError::NotFound(what)) => {
                        anyhow::anyhow!("{what} not found")
                    }
                    other => other.into(),
                })?;
            match output {
                Some(path) => std::fs::write(&path, &jwt)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => println!("{jwt}"),
            }
            Ok(())
        }
        TokenCommand::Decode { token } => decode(global, &token).await,
    }
}

async fn decode(global: &Global, token: &str) -> anyhow::Result<()> {
    let token = if token == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the token from stdin")?;
        text
    } else if std::path::Path::new(token).is_file() {
        std::fs::read_to_string(token).with_context(|| format!("reading {token}"))?
    } else {
        token.to_owned()
    };
    let token = token.trim();
    let (header, claims) =
        podpass_token::decode_unverified(token).context("not a JWT, nor a file holding one")?;
    println!("Header:\n{}", serde_json::to_string_pretty(&header)?);
    println!("Claims:\n{}", serde_json::to_string_pretty(&claims)?);
    let now = podpass_control::now();
    for (name, label) in [("iat", "issued"), ("nbf", "not before"), ("exp", "expires")] {
        if let Some(t) = claims.get(name).and_then(serde_json::Value::as_i64) {
            println!("{label:>10}: {}", describe_time(t, now));
        }
    }
    println!("{}", signature_verdict(global, token, &claims, now).await);
    Ok(())
}

/// Checks the signature offline against the keys of the podpass cluster that issued the token.
async fn signature_verdict(
    global: &Global,
    token: &str,
    claims: &serde_json::Value,
    now: i64,
) -> String {
    let Some(issuer) = claims.get("iss").and_then(serde_json::Value::as_str) else {
        return "Signature: NOT VERIFIED (the token names no issuer)".into();
    };
    let Ok(store) = global.open_store().await else {
        return "Signature: NOT VERIFIED (no podpass store to find the issuer's keys)".into();
    };
    let clusters = podpass_control::clusters::Clusters::new(store.clone());
    let Ok(all) = store.list_clusters().await else {
        return "Signature: NOT VERIFIED (cannot read the store)".into();
    };
    let Some(cluster) = all.into_iter().find(|c| c.issuer_url == issuer) else {
        return format!("Signature: NOT VERIFIED (issuer {issuer} is not a podpass cluster here)");
    };
    let jwks = match clusters.jwks(&cluster.name, now).await {
        Ok(jwks) => jwks,
        Err(e) => return format!("Signature: NOT VERIFIED ({e})"),
    };
    // Audience is not a property of the signature: accept whatever the token names.
    let audiences: Vec<String> = match claims.get("aud") {
        Some(serde_json::Value::String(a)) => vec![a.clone()],
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let verifier = match Verifier::new(issuer, audiences, &jwks) {
        Ok(v) => v,
        Err(e) => return format!("Signature: NOT VERIFIED (issuer keys unusable: {e})"),
    };
    match verifier.verify(token, now) {
        Ok(_) => format!(
            "Signature: VALID (cluster {}, issuer keys of this podpass)",
            cluster.name
        ),
        Err(VerifyError::Expired { .. }) => "Signature: VALID, but the token has EXPIRED".into(),
        Err(e @ (VerifyError::BadSignature | VerifyError::UnknownKeyId(_))) => {
            format!("Signature: INVALID ({e})")
        }
        Err(e) => format!("Signature: REJECTED ({e})"),
    }
}
