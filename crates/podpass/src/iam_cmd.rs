//! `podpass iam lint`: the workload-identity mistakes the reference systems let through.

use std::io::Read;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use podpass_policy::lint::{Finding, Severity, lint};
use podpass_policy::{Policy, PolicyKind};

use crate::cli::Global;

/// IAM tools that AWS does not offer.
#[derive(Debug, Subcommand)]
pub enum IamCommand {
    /// Flag trust and permission policies that let the wrong workload in (e.g. a web-identity
    /// trust without a `sub` condition: any pod of the cluster can take the role)
    Lint(LintArgs),
}

/// Options of `iam lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Lint a stored role: its trust policy and its inline policies
    #[arg(long, conflicts_with = "file")]
    pub role: Option<String>,
    /// A policy document to lint (`-` reads stdin); a document with `Principal` is linted as a
    /// trust policy
    pub file: Option<String>,
    /// Exit non-zero on warnings too, not only on errors
    #[arg(long)]
    pub strict: bool,
}

pub async fn run(global: &Global, command: IamCommand) -> anyhow::Result<()> {
    match command {
        IamCommand::Lint(args) => lint_command(global, args).await,
    }
}

async fn lint_command(global: &Global, args: LintArgs) -> anyhow::Result<()> {
    let documents = match (&args.role, &args.file) {
        (Some(role), _) => {
            let store = global.open_store().await?;
            let role = store.role(role).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut docs = vec![(
                format!("role {} trust policy", role.role_name),
                role.trust_policy.clone(),
                PolicyKind::Trust,
            )];
            for (name, document) in store.role_policies(&role.role_name).await? {
                docs.push((
                    format!("role {} inline policy {name}", role.role_name),
                    document,
                    PolicyKind::Identity,
                ));
            }
            docs
        }
        (None, Some(file)) => {
            let text = read_input(file)?;
            let kind = guess_kind(&text);
            vec![(file.clone(), text, kind)]
        }
        (None, None) => bail!("give a policy FILE (or - for stdin) or --role NAME"),
    };
    let mut worst: Option<Severity> = None;
    for (label, text, kind) in documents {
        let policy = Policy::parse(&text, kind)
            .map_err(|e| anyhow::anyhow!("{label}: MalformedPolicyDocument: {}", e.message()))?;
        let findings = lint(&policy, kind);
        if findings.is_empty() {
            println!("{label}: no findings");
        }
        for finding in &findings {
            print!("{}", render(&label, finding));
            worst = worst.max(Some(finding.severity));
        }
    }
    match worst {
        Some(Severity::Error) => bail!("lint found errors"),
        Some(Severity::Warning) if args.strict => bail!("lint found warnings (--strict)"),
        _ => Ok(()),
    }
}

/// The lint report of a stored role (trust policy and inline policies), as `iam lint --role`
/// prints it.
pub async fn lint_role(global: &Global, role: &str) -> anyhow::Result<String> {
    let store = global.open_store().await?;
    let role = store.role(role).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let policy = Policy::parse(&role.trust_policy, PolicyKind::Trust)
        .map_err(|e| anyhow::anyhow!("MalformedPolicyDocument: {}", e.message()))?;
    let label = format!("role {} trust policy", role.role_name);
    Ok(lint(&policy, PolicyKind::Trust)
        .iter()
        .map(|finding| render(&label, finding))
        .collect())
}

/// One finding as the CLI prints it.
pub fn render(label: &str, finding: &Finding) -> String {
    let severity = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    format!(
        "{label}: {severity}[{}] statement {}: {}\n  fix: {}\n",
        finding.code, finding.statement, finding.message, finding.fix
    )
}

fn read_input(file: &str) -> anyhow::Result<String> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
        return Ok(text);
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {file}"))
}

/// A document naming principals is a trust (or resource) policy; otherwise an identity policy.
fn guess_kind(text: &str) -> PolicyKind {
    let names_principal = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|doc| {
            let statements = match doc.get("Statement")? {
                serde_json::Value::Array(list) => list.clone(),
                single => vec![single.clone()],
            };
            Some(
                statements
                    .iter()
                    .any(|s| s.get("Principal").is_some() || s.get("NotPrincipal").is_some()),
            )
        })
        .unwrap_or(false);
    if names_principal {
        PolicyKind::Trust
    } else {
        PolicyKind::Identity
    }
}
