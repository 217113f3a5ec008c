//! Benchmark-only S3 server (`scripts/bench-s3`): serves the S3 endpoint of an existing podpass
//! data directory three times from one process, so that their costs are compared in the same
//! run, on the same store and the same runtime:
//! - `authorized`: SigV4 and IAM on every request, every decision audited (`podpass up`'s default);
//! - `denials-audited`: the same, auditing only refusals (`podpass up --s3-audit denied`);
//! - `unauthorized`: neither (`S3Options { authorize: false }`), which `podpass up` never does.
//!
//! Usage: `s3-server DATA_DIR`. Prints one JSON line with the endpoint URLs by those names, then
//! serves until SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use podpass_control::sealing::KeyRing;
use podpass_s3::audit::{AuditLog, Rotation};
use podpass_s3::{S3Options, S3Server};
use podpass_store::Store;
use tokio::net::TcpListener;

/// The account and region `podpass up` recorded in `<data_dir>/instance.json`.
#[derive(serde::Deserialize)]
struct Instance {
    account_id: String,
    region: String,
}

/// The allocator `podpass up` runs with (crates/podpass/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let data_dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: s3-server DATA_DIR (a podpass data directory made by `podpass up`)")?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(serve(&data_dir))
}

async fn serve(data_dir: &Path) -> anyhow::Result<()> {
    let instance_path = data_dir.join("instance.json");
    let instance: Instance = serde_json::from_slice(
        &std::fs::read(&instance_path)
            .with_context(|| format!("reading {}", instance_path.display()))?,
    )
    .with_context(|| format!("parsing {}", instance_path.display()))?;
    let store = Store::open_sqlite_file(&data_dir.join("podpass.db"))
        .await
        .context("opening the store")?;
    let keys = Arc::new(
        KeyRing::load(store.clone(), podpass_control::now())
            .await
            .context("loading the session sealing keys")?,
    );
    // Its own audit trail: the `podpass up` that owns the data directory appends to `audit/`.
    let audit = AuditLog::open(&data_dir.join("bench-audit"), Rotation::default())
        .context("opening the audit trail")?;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut urls = serde_json::Map::new();
    let mut tasks = Vec::new();
    for (name, authorize, audit_allowed) in [
        ("authorized", true, true),
        ("denials-audited", true, false),
        ("unauthorized", false, true),
    ] {
        let server = S3Server::new(
            store.clone(),
            keys.clone(),
            &instance.account_id,
            &instance.region,
            data_dir,
            S3Options {
                authorize,
                audit_allowed,
                audit: Some(audit.clone()),
                ..S3Options::default()
            },
        )
        .await
        .with_context(|| format!("starting the {name} S3 endpoint"))?;
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .context("binding 127.0.0.1:0")?;
        urls.insert(
            name.to_owned(),
            format!("http://{}", listener.local_addr()?).into(),
        );
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            server
                .serve(listener, async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await
        }));
    }
    println!("{}", serde_json::Value::Object(urls));

    wait_for_signal().await?;
    stop.send_replace(true);
    for task in tasks {
        task.await.context("S3 endpoint task")??;
    }
    Ok(())
}

/// Resolves on SIGTERM (what `timeout` and `kill` send) or SIGINT.
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        _ = term.recv() => Ok(()),
        result = tokio::signal::ctrl_c() => result.context("listening for SIGINT"),
    }
}
