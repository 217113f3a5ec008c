//! `podpass audit`: the audit trail, filtered: who got credentials, who was refused, and why.

use anyhow::Context;
use clap::Args;
use podpass_audit::{AuditFilter, read_records};

use crate::cli::Global;

/// Options of `podpass audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Only refusals
    #[arg(long)]
    pub denied: bool,
    /// Only events whose principal ARN contains this text
    #[arg(long)]
    pub principal: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2026-11-28T23:00:00Z)
    #[arg(long)]
    pub since: Option<String>,
    /// Print the JSON lines as stored instead of a summary per event
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(global: &Global, args: AuditArgs) -> anyhow::Result<()> {
    let since = args
        .since
        .as_deref()
        .map(AuditFilter::parse_since)
        .transpose()
        .context("--since")?;
    let filter = AuditFilter {
        denied: args.denied,
        principal: args.principal,
        since,
    };
    let records = read_records(&global.data_dir().join("audit"), &filter)?;
    for record in records {
        if args.json {
            println!("{}", serde_json::to_string(&record)?);
            continue;
        }
        let event = &record.event;
        let verdict = if event.is_denied() { "DENY " } else { "ALLOW" };
        println!(
            "{} {verdict} {} {} {} on {}\n      {}",
            event.time,
            event.operation,
            event.principal,
            event.action,
            event.resource,
            event.reason
        );
        // Repeated anonymous decisions are stored once per window with their count.
        if record.count > 1 {
            println!(
                "      x{} from {} until {}",
                record.count,
                event.source_ip,
                record.last_time.as_deref().unwrap_or(&event.time)
            );
        }
    }
    Ok(())
}
