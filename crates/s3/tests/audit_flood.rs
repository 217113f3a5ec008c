//! Issue 11: a flood of anonymous refusals must not rotate the audit trail away. After
//! thousands of anonymous requests over raw HTTP, the authenticated decision made just before
//! is still in the trail, and the flood is there too, aggregated, with the right count.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use podpass_s3::S3Options;
use podpass_s3::audit::{self, AuditFilter, AuditLog, Rotation};
use support::S3Endpoint;

/// Requests of the flood: `SAME` on one key, then `VARIED` on a key each.
const SAME: usize = 2_000;
const VARIED: usize = 1_000;

/// Sends `GET path` on a keep-alive connection and reads the whole response; its status code.
fn get(stream: &mut TcpStream, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buf).unwrap();
                assert!(n > 0, "closed mid-body");
                data.extend_from_slice(&buf[..n]);
            }
            assert_eq!(data.len(), end + 4 + length, "one response at a time");
            let status = head.split(' ').nth(1).unwrap_or_default();
            return status.parse().unwrap();
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed before a response");
        data.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn an_anonymous_flood_keeps_the_earlier_authenticated_decision_and_is_counted() {
    let trail = tempfile::tempdir().unwrap();
    // Small files, one kept, no age protection: without separate trails and aggregation the
    // flood (~1 MB of lines) would rotate the admin's decision away many times over. (The
    // anonymous trail has the same size bound: 20 distinct events per address keep the flood's
    // ~22 lines within it.)
    let rotation = Rotation {
        max_bytes: 16 * 1024,
        keep: 1,
        keep_recent: Duration::ZERO,
        anonymous_per_source: 20,
        ..Rotation::default()
    };
    let log = AuditLog::open(trail.path(), rotation).unwrap();
    let s3 = S3Endpoint::start_with(S3Options {
        audit: Some(log.clone()),
        ..S3Options::default()
    });
    s3.aws_ok(&s3.admin(), &["s3", "mb", "s3://team"]);

    let mut stream = TcpStream::connect(("127.0.0.1", s3.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    for _ in 0..SAME {
        assert_eq!(get(&mut stream, "/team/secret"), 403);
    }
    for n in 0..VARIED {
        assert_eq!(get(&mut stream, &format!("/team/k{n}")), 403);
    }
    s3.runtime.block_on(log.flush());
    assert_eq!(log.dropped(), 0);

    let records = audit::read_records(trail.path(), &AuditFilter::default()).unwrap();
    let created = records
        .iter()
        .find(|r| r.event.operation == "CreateBucket")
        .expect("the admin's CreateBucket is still in the trail");
    assert_eq!(created.event.principal, "arn:aws:iam::000000000000:root");
    assert!(!created.event.is_denied());

    let flood: Vec<_> = records
        .iter()
        .filter(|r| r.event.principal == "anonymous")
        .collect();
    let total: u64 = flood.iter().map(|r| r.count).sum();
    assert_eq!(total, (SAME + VARIED) as u64, "every refusal is counted");
    let per_source = rotation.anonymous_per_source;
    assert!(
        flood.len() <= per_source + 2,
        "{} lines for the flood",
        flood.len()
    );
    assert!(flood.iter().all(|r| r.event.is_denied()));
    assert!(flood.iter().all(|r| r.event.source_ip == "127.0.0.1"));
    let same = flood
        .iter()
        .find(|r| r.event.resource == "arn:aws:s3:::team/secret" && r.count > 1)
        .expect("the repeated refusal is one aggregated event");
    assert_eq!(same.count, SAME as u64 - 1);
    assert!(same.last_time.is_some());
    let beyond = flood
        .iter()
        .find(|r| r.event.resource == "*")
        .expect("refusals beyond the per-source limit are summarised");
    assert_eq!(beyond.count, (VARIED - (per_source - 1)) as u64);
}
