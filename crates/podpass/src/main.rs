//! The podpass command: `podpass up` runs the whole chain on one machine; the other commands
//! administer it the way eksctl, kubectl and the AWS CLI are used against EKS.

mod agent_cmd;
mod audit_cmd;
mod aws_client;
mod broker;
mod cli;
mod cluster_cmd;
mod cluster_objects;
mod demo;
mod eksctl;
mod examples;
mod iam_cmd;
mod instance;
mod issuer_cmd;
mod jsonpath;
mod kube_api;
mod local_cluster;
mod manifests;
mod output;
mod pki;
mod pods;
mod profile;
mod registered_webhooks;
mod sa;
mod serve;
mod thumbprint;
mod token_review;
mod tokens;
mod webhook_cmd;

use clap::Parser;

/// mimalloc rather than glibc's malloc: every request allocates and frees small buffers on
/// one worker thread and drops some on another, where glibc's arenas lock and consolidate
/// (about a tenth of a credential call's CPU in the profiles of docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    quiet_on_closed_pipe();
    let cli = cli::Cli::parse();
    cli::init_logging(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `podpass ... | head` closes the pipe before podpass is done writing; Rust ignores SIGPIPE, so
/// the next `print!` panics. A reader that stopped wanting the output is not an error: the
/// command ends there, quietly, with success (other panics keep the default report).
fn quiet_on_closed_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info);
    }));
}
