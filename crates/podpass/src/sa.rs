//! `podpass sa ...`: the ServiceAccounts of a podpass cluster, handled the way kubectl does.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use podpass_store::{ServiceAccount, Store, StoreError};
use serde_json::json;

use crate::cli::Global;
use crate::output::{Format, kube_age};

/// Where a ServiceAccount lives.
#[derive(Debug, Args)]
pub(crate) struct Scope {
    /// Cluster
    #[arg(long, env = "PODPASS_CLUSTER", default_value = "demo")]
    pub cluster: String,
    /// Namespace
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
}

/// ServiceAccount commands.
#[derive(Debug, Subcommand)]
pub(crate) enum SaCommand {
    /// Create a ServiceAccount
    #[command(after_help = crate::examples::SA_CREATE)]
    Create {
        /// Name
        name: String,
        #[command(flatten)]
        scope: Scope,
    },
    /// List ServiceAccounts, or show one
    #[command(after_help = crate::examples::SA_GET)]
    Get {
        /// Name (all of the namespace when absent)
        name: Option<String>,
        #[command(flatten)]
        scope: Scope,
        /// List every namespace
        #[arg(long, short = 'A')]
        all_namespaces: bool,
        #[arg(long, short = 'o', default_value = "table", help = crate::output::FORMAT_HELP)]
        output: Format,
    },
    /// Set (key=value) or remove (key-) annotations
    #[command(after_help = crate::examples::SA_ANNOTATE)]
    Annotate {
        /// Name
        name: String,
        /// key=value to set, key- to remove
        #[arg(required = true)]
        changes: Vec<String>,
        #[command(flatten)]
        scope: Scope,
        /// Replace annotations that already have a value
        #[arg(long)]
        overwrite: bool,
    },
    /// Delete a ServiceAccount
    #[command(after_help = crate::examples::SA_DELETE)]
    Delete {
        /// Name
        name: String,
        #[command(flatten)]
        scope: Scope,
    },
}

pub(crate) async fn run(global: &Global, command: SaCommand) -> anyhow::Result<()> {
    let store = global.open_store().await?;
    let now = podpass_control::now();
    match command {
        SaCommand::Create { name, scope } => {
            if let Ok(existing) = store
                .service_account(&scope.cluster, &scope.namespace, &name)
                .await
            {
                bail!(
                    "serviceaccounts \"{}\" already exists in namespace \"{}\"",
                    existing.name,
                    existing.namespace
                );
            }
            let clusters = podpass_control::clusters::Clusters::new(store);
            clusters
                .ensure_service_account(&scope.cluster, &scope.namespace, &name, now)
                .await?;
            println!("serviceaccount/{name} created");
        }
        SaCommand::Get {
            name,
            scope,
            all_namespaces,
            output,
        } => {
            let accounts = match &name {
                Some(name) => vec![get(&store, &scope, name).await?],
                None => {
                    let namespace = (!all_namespaces).then_some(scope.namespace.as_str());
                    store
                        .list_service_accounts(&scope.cluster, namespace)
                        .await?
                }
            };
            print_accounts(&accounts, name.is_some(), all_namespaces, output, now)?;
        }
        SaCommand::Annotate {
            name,
            changes,
            scope,
            overwrite,
        } => {
            let mut sa = get(&store, &scope, &name).await?;
            apply_annotations(&mut sa.annotations, &changes, overwrite)?;
            store.put_service_account(&sa).await?;
            println!("serviceaccount/{name} annotated");
        }
        SaCommand::Delete { name, scope } => {
            store
                .delete_service_account(&scope.cluster, &scope.namespace, &name)
                .await
                .map_err(not_found)?;
            println!("serviceaccount \"{name}\" deleted");
        }
    }
    Ok(())
}

async fn get(store: &Store, scope: &Scope, name: &str) -> anyhow::Result<ServiceAccount> {
    store
        .service_account(&scope.cluster, &scope.namespace, name)
        .await
        .map_err(not_found)
}

fn not_found(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::NotFound(what) => anyhow::anyhow!("{what} not found"),
        other => other.into(),
    }
}

/// Applies kubectl-annotate style changes: `k=v` sets, `k-` removes.
pub(crate) fn apply_annotations(
    annotations: &mut BTreeMap<String, String>,
    changes: &[String],
    overwrite: bool,
) -> anyhow::Result<()> {
    for change in changes {
        if let Some(key) = change.strip_suffix('-').filter(|k| !k.contains('=')) {
            annotations.remove(key);
            continue;
        }
        let (key, value) = change
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .with_context(|| {
                format!("invalid annotation {change:?}: expected key=value or key-")
            })?;
        if let Some(old) = annotations
            .get(key)
            .filter(|old| *old != value && !overwrite)
        {
            bail!(
                "--overwrite is false but found the following declared annotation(s): '{key}' already has a value ({old})"
            );
        }
        annotations.insert(key.to_owned(), value.to_owned());
    }
    Ok(())
}

/// The ServiceAccount as the Kubernetes API returns it.
pub(crate) fn manifest(sa: &ServiceAccount) -> serde_json::Value {
    let mut metadata = json!({
        "creationTimestamp": jiff::Timestamp::from_second(sa.created_at)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        "name": sa.name,
        "namespace": sa.namespace,
        "uid": sa.uid,
    });
    if !sa.annotations.is_empty() {
        metadata["annotations"] = json!(sa.annotations);
    }
    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata})
}

fn print_accounts(
    accounts: &[ServiceAccount],
    single: bool,
    all_namespaces: bool,
    format: Format,
    now: i64,
) -> anyhow::Result<()> {
    let document = if single {
        accounts.first().map(manifest).unwrap_or_default()
    } else {
        json!({
            "apiVersion": "v1",
            "items": accounts.iter().map(manifest).collect::<Vec<_>>(),
            "kind": "List",
            "metadata": {"resourceVersion": ""},
        })
    };
    if format.print_document(&document)? {
        return Ok(());
    }
    match format {
        Format::Json | Format::Yaml | Format::JsonPath(_) => {}
        Format::Name => {
            for sa in accounts {
                println!("serviceaccount/{}", sa.name);
            }
        }
        Format::Table | Format::Wide => {
            if accounts.is_empty() {
                eprintln!("No resources found.");
                return Ok(());
            }
            let mut rows = vec![];
            if all_namespaces {
                rows.push(
                    vec!["NAMESPACE", "NAME", "SECRETS", "AGE"]
                        .into_iter()
                        .map(String::from)
                        .collect(),
                );
            } else {
                rows.push(
                    vec!["NAME", "SECRETS", "AGE"]
                        .into_iter()
                        .map(String::from)
                        .collect(),
                );
            }
            for sa in accounts {
                let mut row: Vec<String> = Vec::new();
                if all_namespaces {
                    row.push(sa.namespace.clone());
                }
                row.extend([sa.name.clone(), "0".into(), kube_age(now - sa.created_at)]);
                rows.push(row);
            }
            print!("{}", crate::output::table(&rows));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotate_sets_removes_and_guards_overwrites() {
        let mut a = BTreeMap::from([("x".to_owned(), "1".to_owned())]);
        apply_annotations(&mut a, &["y=2".into(), "x-".into()], false).unwrap();
        assert_eq!(a, BTreeMap::from([("y".to_owned(), "2".to_owned())]));
        let err = apply_annotations(&mut a, &["y=3".into()], false).unwrap_err();
        assert!(err.to_string().contains("--overwrite is false"), "{err}");
        apply_annotations(&mut a, &["y=3".into()], true).unwrap();
        assert_eq!(a["y"], "3");
        assert!(apply_annotations(&mut a, &["=v".into()], true).is_err());
    }
}
