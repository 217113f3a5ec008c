//! Issue 11 against the real binary: every listener of `podpass up` (AWS endpoint, S3, node
//! agent) disconnects a client that stalls mid-request or sends nothing, with the limits given
//! as flags, and still serves normal requests.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::Podpass;

/// Whether the server closes `stream` within a generous deadline (10 s for 1 s timeouts).
fn closed_before_deadline(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

#[test]
fn every_listener_disconnects_stalled_and_silent_clients_and_still_serves() {
    let podpass = Podpass::start_with(
        &[
            "--header-read-timeout",
            "1s",
            "--idle-timeout",
            "1s",
            "--max-connections",
            "64",
        ],
        &[],
    );
    let listeners = [
        ("api", host_port(&podpass.endpoint())),
        ("s3", host_port(&podpass.s3_endpoint())),
        ("agent", host_port(&podpass.agent_url())),
    ];
    for (name, address) in &listeners {
        let mut stalled = TcpStream::connect(address).unwrap();
        stalled.write_all(b"G").unwrap();
        let mut silent = TcpStream::connect(address).unwrap();
        assert!(
            closed_before_deadline(&mut stalled),
            "{name}: a client that sent 'G' is still connected"
        );
        assert!(
            closed_before_deadline(&mut silent),
            "{name}: a client that sent nothing is still connected"
        );
    }

    let mut client = TcpStream::connect(&listeners[0].1).unwrap();
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: podpass\r\nconnection: close\r\n\r\n")
        .unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = String::new();
    client.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[test]
fn up_documents_the_listener_limits() {
    let podpass = Podpass::start();
    let help = support::text(&podpass.podpass(&["up", "--help"]).stdout);
    for flag in [
        "--header-read-timeout",
        "PODPASS_HEADER_READ_TIMEOUT",
        "--idle-timeout",
        "PODPASS_IDLE_TIMEOUT",
        "--max-connections",
        "PODPASS_MAX_CONNECTIONS",
        "--shutdown-timeout",
        "--audit-keep-recent",
        "--audit-anonymous-window",
        "--audit-anonymous-per-source",
    ] {
        assert!(
            help.contains(flag),
            "{flag} missing from podpass up --help:\n{help}"
        );
    }
}

#[test]
fn an_api_replica_without_s3_names_the_endpoint_that_serves_it() {
    let elsewhere = "http://podpass-s3.podpass.svc:7702";
    let podpass = Podpass::start_with(&["--s3-listen", "off", "--s3-public-url", elsewhere], &[]);
    assert_eq!(podpass.instance["s3_endpoint_url"], elsewhere);
    let env = support::text(&podpass.podpass(&["env"]).stdout);
    assert!(
        env.contains(&format!("export AWS_ENDPOINT_URL_S3={elsewhere}\n")),
        "{env}"
    );
    // It serves the AWS endpoint, and no S3: no listener, no S3 metrics.
    let metrics = support::http_get(&format!("{}/metrics", podpass.endpoint()));
    assert!(metrics.contains("podpass_"), "{metrics}");
    assert!(!metrics.contains("podpass_s3_"), "{metrics}");
    assert!(
        !podpass.log().contains("S3 endpoint ready"),
        "{}",
        podpass.log()
    );

    // Told of no S3 endpoint at all, it exports none rather than an empty one.
    let alone = Podpass::start_with(&["--s3-listen", "off"], &[]);
    let env = support::text(&alone.podpass(&["env"]).stdout);
    assert!(!env.contains("AWS_ENDPOINT_URL_S3"), "{env}");
    assert!(env.contains("export AWS_ENDPOINT_URL="), "{env}");
}
