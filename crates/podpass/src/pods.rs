//! `podpass run`, `get pods`, `get pod`, `logs`, `exec`, `delete pod`: the running instance's
//! kubelet, used the way kubectl is used against a cluster.

use std::io::{Read, Write};

use anyhow::{Context, bail};
use clap::Args;
use reqwest::Method;
use serde_json::Value;

use crate::aws_client::AwsClient;
use crate::cli::Global;
use crate::output::Format;
use crate::output::{kube_age, table};
use podpass_kubelet::Document;

/// Options of `podpass run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Manifest (YAML or JSON; `-` reads stdin): Pods; Deployments, DaemonSets, StatefulSets,
    /// ReplicaSets and Jobs, each run as one pod of its template; Secrets and ConfigMaps
    #[arg(long, short = 'f')]
    pub filename: String,
    /// Namespace [default: the manifest's, else `default`]
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Wait for the pod to finish, streaming its output, and exit with its outcome
    #[arg(long)]
    pub attach: bool,
    /// Delete a pod of the same name first, if there is one
    #[arg(long)]
    pub replace: bool,
}

/// Options of `podpass apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// Manifest (YAML or JSON; `-` reads stdin), as `podpass run -f` takes it
    #[arg(long, short = 'f')]
    pub filename: String,
    /// Namespace [default: the manifest's, else `default`]
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Delete and re-create a Pod whose spec changed, which the API server cannot update
    #[arg(long)]
    pub force: bool,
}

/// Options naming one pod.
#[derive(Debug, Args)]
pub(crate) struct PodArgs {
    /// Pod name
    pub name: String,
    /// Namespace
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
}

/// Options of `podpass get pods`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Namespace
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
    /// Every namespace
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
    #[arg(long, short = 'o', default_value = "table", help = crate::output::FORMAT_HELP)]
    pub output: Format,
}

/// Options of `podpass get pod`.
#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    #[command(flatten)]
    pub pod: PodArgs,
    /// Output format: table, wide, name, yaml, json, or jsonpath=TEMPLATE (`-o yaml` shows the
    /// pod as admitted: the webhook's mutation included)
    #[arg(long, short = 'o', default_value = "table")]
    pub output: Format,
}

/// Options of `podpass logs`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    #[command(flatten)]
    pub pod: PodArgs,
    /// Container [default: the first]
    #[arg(long, short = 'c')]
    pub container: Option<String>,
    /// Stream new output until the container ends
    #[arg(long, short = 'f')]
    pub follow: bool,
}

/// Options of `podpass exec`.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    #[command(flatten)]
    pub pod: PodArgs,
    /// Container [default: the first]
    #[arg(long, short = 'c')]
    pub container: Option<String>,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

fn pod_path(namespace: &str, name: &str) -> String {
    format!("/podpass/v1/namespaces/{namespace}/pods/{name}")
}

/// Reads an API answer, turning a Kubernetes `Status` failure into an error with its message.
async fn answer(response: reqwest::Response) -> anyhow::Result<Value> {
    let ok = response.status().is_success();
    let text = response.text().await?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !ok {
        let message = value["message"].as_str().map(str::to_owned).unwrap_or(text);
        bail!("{message}");
    }
    Ok(value)
}

/// What a manifest file holds, sorted the way `run -f` and `apply -f` use it.
struct Manifest {
    /// ServiceAccounts, Secrets, ConfigMaps and the kinds the cluster keeps (RBAC, Services,
    /// webhook configurations), stored before the pods start.
    objects: Vec<Document>,
    /// Pods to run, each with the workload it stands for, if any.
    pods: Vec<(Value, Option<String>)>,
}

impl Manifest {
    fn read(filename: &str) -> anyhow::Result<Self> {
        let text = if filename == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            text
        } else {
            std::fs::read_to_string(filename).with_context(|| format!("reading {filename}"))?
        };
        let mut manifest = Manifest {
            objects: Vec::new(),
            pods: Vec::new(),
        };
        for document in podpass_kubelet::parse_documents(&text)? {
            match podpass_kubelet::documents::classify(document)? {
                Document::Pod { pod, owner } => manifest.pods.push((pod, owner)),
                Document::Other { kind, name, .. }
                    if crate::cluster_objects::kept_kind(&kind).is_none() =>
                {
                    eprintln!(
                        "{kind}/{name} skipped: nothing in podpass's one-node cluster acts on it"
                    )
                }
                object => manifest.objects.push(object),
            }
        }
        Ok(manifest)
    }

    /// Creates or replaces the objects, printing each outcome as kubectl does.
    async fn store_objects(
        &self,
        client: &AwsClient,
        namespace_flag: Option<&str>,
    ) -> anyhow::Result<()> {
        for object in &self.objects {
            let (name, written_namespace, body) = match object {
                Document::ServiceAccount {
                    name,
                    namespace,
                    annotations,
                } => {
                    let body = serde_json::json!({
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "metadata": {"name": name, "annotations": annotations},
                    });
                    (name, namespace.as_deref(), body)
                }
                Document::Config(config) => (
                    &config.name,
                    config.namespace.as_deref(),
                    config.to_document(),
                ),
                Document::Other { name, document, .. } => (
                    name,
                    document
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str),
                    (**document).clone(),
                ),
                Document::Pod { .. } => continue,
            };
            let namespace = namespace_of(namespace_flag, written_namespace);
            let Some((path, kind)) = crate::cluster_objects::destination(object, &namespace) else {
                continue;
            };
            let response = client
                .admin(
                    Method::PUT,
                    &format!("/podpass/v1/{path}"),
                    Some(("application/json", body.to_string())),
                )
                .await?;
            let created = response.status() == reqwest::StatusCode::CREATED;
            answer(response).await?;
            let verb = if created { "created" } else { "configured" };
            println!("{kind}/{name} {verb}");
        }
        Ok(())
    }
}

/// The namespace of an object: the flag's, else the manifest's, else `default`.
fn namespace_of(flag: Option<&str>, written: Option<&str>) -> String {
    flag.or(written).unwrap_or("default").to_owned()
}

async fn create_pod(client: &AwsClient, namespace: &str, pod: &Value) -> anyhow::Result<String> {
    let created = answer(
        client
            .admin(
                Method::POST,
                &format!("/podpass/v1/namespaces/{namespace}/pods"),
                Some(("application/json", pod.to_string())),
            )
            .await?,
    )
    .await?;
    Ok(created["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// Deletes the pod, if there is one.
async fn delete_pod(client: &AwsClient, namespace: &str, name: &str) -> anyhow::Result<()> {
    let response = client
        .admin(Method::DELETE, &pod_path(namespace, name), None)
        .await?;
    if response.status() != reqwest::StatusCode::NOT_FOUND {
        answer(response).await?;
    }
    Ok(())
}

pub(crate) async fn run(global: &Global, args: RunArgs) -> anyhow::Result<()> {
    let manifest = Manifest::read(&args.filename)?;
    if args.attach && manifest.pods.len() != 1 {
        bail!(
            "--attach needs exactly one pod in the manifest, found {}",
            manifest.pods.len()
        );
    }
    let client = AwsClient::connect(global).await?;
    // ServiceAccounts, Secrets and ConfigMaps first: the pods use them as they start.
    manifest
        .store_objects(&client, args.namespace.as_deref())
        .await?;
    for (pod, owner) in &manifest.pods {
        let namespace = namespace_of(
            args.namespace.as_deref(),
            pod["metadata"]["namespace"].as_str(),
        );
        if args.replace
            && let Some(name) = pod["metadata"]["name"].as_str()
        {
            delete_pod(&client, &namespace, name).await?;
        }
        let name = create_pod(&client, &namespace, pod).await?;
        if args.attach {
            return attach(&client, &namespace, &name).await;
        }
        match owner {
            Some(owner) => println!("pod/{name} created (one pod of {owner})"),
            None => println!("pod/{name} created"),
        }
    }
    Ok(())
}

/// The annotation kubectl keeps the applied manifest in, to tell what changed next time.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `podpass apply -f`: what kubectl apply does on a one-node cluster. A pod whose manifest is
/// the one last applied is left alone; a workload whose template changed is rolled out (its pod
/// replaced); a bare Pod whose spec changed is refused as the API server refuses it, unless
/// `--force` replaces it.
pub(crate) async fn apply(global: &Global, args: ApplyArgs) -> anyhow::Result<()> {
    let manifest = Manifest::read(&args.filename)?;
    let client = AwsClient::connect(global).await?;
    manifest
        .store_objects(&client, args.namespace.as_deref())
        .await?;
    let mut refused = 0;
    for (pod, owner) in manifest.pods {
        let namespace = namespace_of(
            args.namespace.as_deref(),
            pod["metadata"]["namespace"].as_str(),
        );
        let Some(name) = pod["metadata"]["name"].as_str().map(str::to_owned) else {
            bail!("error: resource name may not be empty (apply needs metadata.name)");
        };
        let applied = serde_json::to_string(&pod)?;
        let mut annotated = pod;
        annotated["metadata"]["annotations"][LAST_APPLIED] = Value::String(applied.clone());
        let response = client
            .admin(Method::GET, &pod_path(&namespace, &name), None)
            .await?;
        let verb = if response.status() == reqwest::StatusCode::NOT_FOUND {
            create_pod(&client, &namespace, &annotated).await?;
            "created"
        } else {
            let existing = answer(response).await?;
            if existing["metadata"]["annotations"][LAST_APPLIED].as_str() == Some(&applied) {
                "unchanged"
            } else if owner.is_some() || args.force {
                delete_pod(&client, &namespace, &name).await?;
                create_pod(&client, &namespace, &annotated).await?;
                if owner.is_some() {
                    "configured"
                } else {
                    "replaced"
                }
            } else {
                eprintln!(
                    "Error from server (Invalid): error when applying patch to pod/{name} in \
                     namespace {namespace}: The Pod \"{name}\" is invalid: spec: Forbidden: pod \
                     updates may not change fields other than `spec.containers[*].image`, \
                     `spec.activeDeadlineSeconds`, `spec.tolerations` or \
                     `spec.terminationGracePeriodSeconds` (apply --force deletes and re-creates it)"
                );
                refused += 1;
                continue;
            }
        };
        match &owner {
            Some(owner) => println!("pod/{name} {verb} (one pod of {owner})"),
            None => println!("pod/{name} {verb}"),
        }
    }
    if refused > 0 {
        bail!("{refused} pod(s) could not be updated in place");
    }
    Ok(())
}

/// Streams the pod's output until it ends and fails unless it succeeded.
async fn attach(client: &AwsClient, namespace: &str, name: &str) -> anyhow::Result<()> {
    stream_logs(client, namespace, name, None).await?;
    let pod = answer(
        client
            .admin(Method::GET, &pod_path(namespace, name), None)
            .await?,
    )
    .await?;
    match pod["status"]["phase"].as_str() {
        Some("Succeeded") => Ok(()),
        phase => bail!(
            "pod {namespace}/{name} ended {}",
            phase.unwrap_or("in an unknown phase")
        ),
    }
}

async fn stream_logs(
    client: &AwsClient,
    namespace: &str,
    name: &str,
    container: Option<&str>,
) -> anyhow::Result<()> {
    let mut path = format!("{}/log?follow=true", pod_path(namespace, name));
    if let Some(c) = container {
        path.push_str(&format!("&container={c}"));
    }
    let mut response = client.admin(Method::GET, &path, None).await?;
    if !response.status().is_success() {
        answer(response).await?;
        return Ok(());
    }
    let mut stdout = std::io::stdout();
    while let Some(chunk) = response.chunk().await? {
        stdout.write_all(&chunk)?;
        stdout.flush()?;
    }
    Ok(())
}

pub(crate) async fn logs(global: &Global, args: LogsArgs) -> anyhow::Result<()> {
    let client = AwsClient::connect(global).await?;
    if args.follow {
        return stream_logs(
            &client,
            &args.pod.namespace,
            &args.pod.name,
            args.container.as_deref(),
        )
        .await;
    }
    let mut path = format!("{}/log", pod_path(&args.pod.namespace, &args.pod.name));
    if let Some(c) = &args.container {
        path.push_str(&format!("?container={c}"));
    }
    let response = client.admin(Method::GET, &path, None).await?;
    if !response.status().is_success() {
        answer(response).await?;
    } else {
        std::io::stdout().write_all(&response.bytes().await?)?;
    }
    Ok(())
}

pub(crate) async fn exec(
    global: &Global,
    args: ExecArgs,
) -> anyhow::Result<std::process::ExitCode> {
    let client = AwsClient::connect(global).await?;
    let body = serde_json::json!({"container": args.container, "command": args.command});
    let output = answer(
        client
            .admin(
                Method::POST,
                &format!("{}/exec", pod_path(&args.pod.namespace, &args.pod.name)),
                Some(("application/json", body.to_string())),
            )
            .await?,
    )
    .await?;
    print!("{}", output["stdout"].as_str().unwrap_or_default());
    eprint!("{}", output["stderr"].as_str().unwrap_or_default());
    let code = output["exitCode"].as_i64().unwrap_or(1);
    Ok(std::process::ExitCode::from(
        u8::try_from(code).unwrap_or(1),
    ))
}

pub(crate) async fn delete(global: &Global, args: PodArgs) -> anyhow::Result<()> {
    let client = AwsClient::connect(global).await?;
    answer(
        client
            .admin(Method::DELETE, &pod_path(&args.namespace, &args.name), None)
            .await?,
    )
    .await?;
    println!("pod \"{}\" deleted", args.name);
    Ok(())
}

pub(crate) async fn get(global: &Global, args: GetArgs) -> anyhow::Result<()> {
    let client = AwsClient::connect(global).await?;
    let pod = answer(
        client
            .admin(
                Method::GET,
                &pod_path(&args.pod.namespace, &args.pod.name),
                None,
            )
            .await?,
    )
    .await?;
    if args.output.print_document(&pod)? {
        return Ok(());
    }
    print_pods(&[pod], false, &args.output)
}

pub(crate) async fn list(global: &Global, args: ListArgs) -> anyhow::Result<()> {
    let client = AwsClient::connect(global).await?;
    let path = if args.all_namespaces {
        "/podpass/v1/pods".to_owned()
    } else {
        format!("/podpass/v1/namespaces/{}/pods", args.namespace)
    };
    let list = answer(client.admin(Method::GET, &path, None).await?).await?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() && args.output == Format::Table {
        eprintln!("No resources found.");
        return Ok(());
    }
    if args.output.print_document(&list)? {
        return Ok(());
    }
    print_pods(&items, args.all_namespaces, &args.output)
}

/// Pods as a table or as names.
fn print_pods(pods: &[Value], all_namespaces: bool, format: &Format) -> anyhow::Result<()> {
    if let Format::Name = format {
        for pod in pods {
            println!(
                "pod/{}",
                pod["metadata"]["name"].as_str().unwrap_or_default()
            );
        }
        return Ok(());
    }
    let wide = *format == Format::Wide;
    let now = podpass_control::now();
    let mut rows = vec![];
    let mut header = vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"];
    if all_namespaces {
        header.insert(0, "NAMESPACE");
    }
    if wide {
        header.extend(["IP", "NODE"]);
    }
    rows.push(header.into_iter().map(String::from).collect::<Vec<_>>());
    for pod in pods {
        let statuses = pod["status"]["containerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ready = statuses
            .iter()
            .filter(|c| c["ready"].as_bool() == Some(true))
            .count();
        let restarts: u64 = statuses
            .iter()
            .filter_map(|c| c["restartCount"].as_u64())
            .sum();
        let status = pod["status"]["reason"]
            .as_str()
            .or_else(|| pod["status"]["phase"].as_str())
            .unwrap_or("Unknown");
        let started = pod["status"]["startTime"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map_or(now, |t| t.as_second());
        let mut row = vec![];
        if all_namespaces {
            row.push(
                pod["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        row.extend([
            pod["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            format!("{ready}/{}", statuses.len()),
            status.to_owned(),
            restarts.to_string(),
            kube_age(now - started),
        ]);
        if wide {
            // Pods share the node's network: their IP is the node's loopback.
            row.extend([
                "127.0.0.1".to_owned(),
                crate::local_cluster::NODE_NAME.to_owned(),
            ]);
        }
        rows.push(row);
    }
    print!("{}", table(&rows));
    Ok(())
}
