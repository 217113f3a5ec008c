//! `podpass iam lint`: the workload-identity mistakes the reference systems let through.

use std::io::Read;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use std::sync::Arc;

use podpass_control::simulate;
use podpass_policy::lint::{Finding, Severity, lint};
use podpass_policy::{
    Explanation, NamedPolicy, Policy, PolicyKind, PolicySet, PolicyType, Principal, Request,
    evaluate_explained, evaluate_trust_explained,
};

use crate::cli::Global;

/// IAM tools that AWS does not offer.
#[derive(Debug, Subcommand)]
pub(crate) enum IamCommand {
    /// Flag trust and permission policies that let the wrong workload in (e.g. a web-identity
    /// trust without a `sub` condition: any pod of the cluster can take the role)
    #[command(after_help = crate::examples::IAM_LINT)]
    Lint(LintArgs),
    /// Decide a request with podpass's engine and explain why: identity, session, boundary,
    /// resource and trust policies, from files or stored roles; covers what AWS's simulator
    /// cannot (session policies, trust policies for web-identity and service callers)
    #[command(after_help = crate::examples::EXPLAIN)]
    Simulate(Box<SimulateArgs>),
}

/// Options of `iam simulate`.
#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// The action, e.g. s3:GetObject or sts:AssumeRoleWithWebIdentity
    #[arg(long)]
    pub action: String,
    /// The resource ARN [default: *; for --trust-of, the role's ARN]
    #[arg(long)]
    pub resource: Option<String>,
    /// Identity policy files (repeat for several)
    #[arg(long = "policy")]
    pub policies: Vec<String>,
    /// Take the identity policies (inline, attached) and boundary of this stored role, and make
    /// the caller a session of it
    #[arg(long)]
    pub role: Option<String>,
    /// Session policy files
    #[arg(long = "session-policy")]
    pub session_policies: Vec<String>,
    /// Permissions boundary file
    #[arg(long)]
    pub boundary: Option<String>,
    /// Resource policy file (e.g. a bucket policy)
    #[arg(long)]
    pub resource_policy: Option<String>,
    /// Evaluate this stored role's trust policy instead (AssumeRole* decisions)
    #[arg(long, conflicts_with_all = ["policies", "role", "resource_policy"])]
    pub trust_of: Option<String>,
    /// The caller: an OIDC provider ARN (web identity), a service principal such as
    /// pods.eks.amazonaws.com, an account id, or an assumed-role ARN
    /// [default: the role's session with --role, else the account root]
    #[arg(long)]
    pub caller: Option<String>,
    /// Context values, KEY=VALUE (repeat a key for a multi-valued key), e.g.
    /// 127.0.0.1:7700/id/ABC:sub=system:serviceaccount:default:app or aws:RequestTag/team=x
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// Output: a human-readable explanation, or JSON for scripts
    #[arg(long, short = 'o', value_enum, default_value_t = SimulateOutput::Text)]
    pub output: SimulateOutput,
}

/// Output formats of `iam simulate`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum SimulateOutput {
    /// The explanation
    Text,
    /// The explanation as JSON
    Json,
}

/// Options of `iam lint`.
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// Lint a stored role: its trust policy and its inline policies
    #[arg(long, conflicts_with = "file")]
    pub role: Option<String>,
    /// Lint every stored role (exits non-zero when any has an error: a CI check)
    #[arg(long, conflicts_with_all = ["file", "role"])]
    pub all: bool,
    /// A policy document to lint (`-` reads stdin); a document with `Principal` is linted as a
    /// trust policy
    pub file: Option<String>,
    /// Exit non-zero on warnings too, not only on errors
    #[arg(long)]
    pub strict: bool,
    /// Also check that trust policies let a podpass broker whose own identity is this role
    /// hand the role to pods (sts:AssumeRole and sts:TagSession), e.g. before creating an
    /// association for it in broker mode
    #[arg(long, value_name = "ROLE_ARN")]
    pub broker_role: Option<String>,
}

pub(crate) async fn run(global: &Global, command: IamCommand) -> anyhow::Result<()> {
    match command {
        IamCommand::Lint(args) => lint_command(global, args).await,
        IamCommand::Simulate(args) => simulate(global, *args).await,
    }
}

async fn lint_command(global: &Global, args: LintArgs) -> anyhow::Result<()> {
    let documents = match (&args.role, &args.file) {
        _ if args.all => {
            let store = global.open_store().await?;
            let mut docs = Vec::new();
            for role in store.list_roles("/").await? {
                docs.extend(role_documents(&store, role).await?);
            }
            docs
        }
        (Some(role), _) => {
            let store = global.open_store().await?;
            let role = store.role(role).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            role_documents(&store, role).await?
        }
        (None, Some(file)) => {
            let text = read_input(file)?;
            let kind = guess_kind(&text);
            vec![(file.clone(), text, kind)]
        }
        (None, None) => bail!("give a policy FILE (or - for stdin), --role NAME or --all"),
    };
    let mut worst: Option<Severity> = None;
    for (label, text, kind) in documents {
        let policy = Policy::parse(&text, kind)
            .map_err(|e| anyhow::anyhow!("{label}: MalformedPolicyDocument: {}", e.message()))?;
        let mut findings = lint(&policy, kind);
        if let (Some(broker_role), PolicyKind::Trust) = (&args.broker_role, kind) {
            findings.extend(podpass_policy::lint::lint_broker_trust(
                &policy,
                broker_role,
            ));
        }
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

/// A stored role's trust policy and inline policies, labelled for the report.
async fn role_documents(
    store: &podpass_store::Store,
    role: podpass_store::Role,
) -> anyhow::Result<Vec<(String, String, PolicyKind)>> {
    let mut docs = vec![(
        format!("role {} trust policy", role.role_name),
        role.trust_policy,
        PolicyKind::Trust,
    )];
    for (name, document) in store
        .inline_policies(podpass_store::Holder::Role(&role.role_name))
        .await?
    {
        docs.push((
            format!("role {} inline policy {name}", role.role_name),
            document,
            PolicyKind::Identity,
        ));
    }
    Ok(docs)
}

/// The lint report of a stored role (trust policy and inline policies), as `iam lint --role`
/// prints it.
pub(crate) async fn lint_role(global: &Global, role: &str) -> anyhow::Result<String> {
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
pub(crate) fn render(label: &str, finding: &Finding) -> String {
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

fn named(
    label: &str,
    path: &str,
    kind: PolicyKind,
    policy_type: PolicyType,
) -> anyhow::Result<Arc<NamedPolicy>> {
    let text = read_input(path)?;
    let policy = Policy::parse(&text, kind)
        .map_err(|e| anyhow::anyhow!("{path}: MalformedPolicyDocument: {}", e.message()))?;
    Ok(Arc::new(NamedPolicy::new(
        format!("{label} {path}"),
        policy_type,
        policy,
    )))
}

async fn simulate(global: &Global, args: SimulateArgs) -> anyhow::Result<()> {
    let store = global.open_store().await?;
    let account = store
        .meta("account_id")
        .await?
        .unwrap_or_else(|| "000000000000".to_owned());
    let mut set = PolicySet::default();
    for path in &args.policies {
        set.identity.push(named(
            "policy",
            path,
            PolicyKind::Identity,
            PolicyType::Inline,
        )?);
    }
    for path in &args.session_policies {
        set.session.push(named(
            "session policy",
            path,
            PolicyKind::Session,
            PolicyType::SessionInline,
        )?);
    }
    if let Some(path) = &args.boundary {
        set.boundary = Some(named(
            "boundary",
            path,
            PolicyKind::Boundary,
            PolicyType::Boundary,
        )?);
    }
    if let Some(path) = &args.resource_policy {
        set.resource = Some(named(
            "resource policy",
            path,
            PolicyKind::Resource,
            PolicyType::Resource,
        )?);
    }
    let mut principal = Principal::AccountRoot {
        account: account.clone(),
    };
    if let Some(name) = &args.role {
        let (role, stored) = simulate::simulation_role(&store, name).await?;
        set.identity.extend(stored.identity);
        set.boundary = set.boundary.or(stored.boundary);
        principal = simulate::role_session(&role, &account);
    }
    if let Some(caller) = &args.caller {
        principal = simulate::caller_principal(caller);
    }
    let trust_role = match &args.trust_of {
        Some(name) => Some(store.role(name).await.map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    if trust_role.is_some()
        && args.action.eq_ignore_ascii_case("sts:AssumeRole")
        && matches!(principal, Principal::AccountRoot { .. })
        && args.caller.is_none()
    {
        eprintln!(
            "note: the caller is the account root, which STS refuses sts:AssumeRole whatever the \
             trust policy says (\"Roles may not be assumed by root accounts.\"); pass --caller to \
             simulate a user or a role session"
        );
    }
    let resource = args
        .resource
        .clone()
        .or_else(|| trust_role.as_ref().map(|r| r.arn.clone()))
        .unwrap_or_else(|| "*".to_owned());
    let mut request =
        Request::new(principal, &args.action, resource).with_time(jiff::Timestamp::now());
    let mut multi: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    for entry in &args.context {
        let (key, value) = entry
            .split_once('=')
            .with_context(|| format!("--context {entry:?}: expected KEY=VALUE"))?;
        multi
            .entry(key.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    for (key, mut values) in multi {
        request = if values.len() == 1 {
            request.with(&key, values.remove(0))
        } else {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            request.with_values(&key, &refs)
        };
    }
    let explanation = match &trust_role {
        Some(role) => {
            let policy = Policy::parse(&role.trust_policy, PolicyKind::Trust)
                .map_err(|e| anyhow::anyhow!("stored trust policy: {}", e.message()))?;
            let trust = NamedPolicy::new(
                format!("trust policy of {}", role.role_name),
                PolicyType::Trust,
                policy,
            )
            .with_arn(role.arn.clone());
            evaluate_trust_explained(&trust, &set, &request)
        }
        None => evaluate_explained(&set, &request),
    };
    match args.output {
        SimulateOutput::Text => println!("{explanation}"),
        SimulateOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(&explanation_json(&explanation))?
        ),
    }
    Ok(())
}

fn explanation_json(e: &Explanation) -> serde_json::Value {
    let statements = |list: &[podpass_policy::MatchedStatement]| -> Vec<serde_json::Value> {
        list.iter().map(|s| {
            serde_json::json!({
                "policy": s.policy_name,
                "policyArn": s.policy_arn,
                "policyType": format!("{:?}", s.policy_type),
                "kind": format!("{:?}", s.kind),
                "effect": format!("{:?}", s.effect),
                "sid": s.sid,
                "index": s.index,
                "start": s.span.map(|sp| serde_json::json!({"line": sp.start.line, "column": sp.start.column})),
                "conditions": s.conditions.iter().map(|c| serde_json::json!({
                    "operator": c.operator,
                    "key": c.key,
                    "policyValues": c.policy_values,
                    "requestValues": c.request_values,
                    "held": c.held,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
    };
    serde_json::json!({
        "decision": e.decision.as_simulator_str(),
        "implicitDenyIn": e.implicit_deny_in.map(|k| format!("{k:?}")),
        "action": e.action,
        "resource": e.resource,
        "statements": statements(&e.statements),
        "unmetStatements": statements(&e.unmet),
        "missingContextKeys": e.missing_keys,
        "explanation": e.to_string(),
    })
}
