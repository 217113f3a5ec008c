//! The S3 listener's limits over raw TCP (issue 11): a client that stalls mid-request-line, one
//! that sends nothing, an idle keep-alive connection and more connections than the cap must not
//! hold the endpoint; a normal request is still answered, with the client's address audited.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use podpass_control::sealing::KeyRing;
use podpass_s3::audit::{self, AuditFilter};
use podpass_s3::{S3Options, S3Server};
use podpass_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DEADLINE: Duration = Duration::from_secs(10);

struct Endpoint {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    server: Arc<S3Server>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(header: u64, idle: u64, max_connections: usize) -> Endpoint {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite_file(&dir.path().join("podpass.db"))
        .await
        .unwrap();
    let keys = Arc::new(
        KeyRing::load(store.clone(), podpass_control::now())
            .await
            .unwrap(),
    );
    let server = Arc::new(
        S3Server::new(
            store,
            keys,
            "000000000000",
            "us-east-1",
            dir.path(),
            S3Options::default(),
        )
        .await
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = podpass_http::ServeOptions {
        header_read_timeout: Duration::from_secs(header),
        idle_timeout: Duration::from_secs(idle),
        max_connections,
        shutdown_timeout: Duration::from_secs(5),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = server.clone();
    tokio::spawn(async move {
        serving
            .serve_with(listener, options, async {
                let _ = stopped.await;
            })
            .await
    });
    Endpoint {
        addr,
        dir,
        server,
        _stop: stop,
    }
}

async fn closed_before_deadline(stream: &mut TcpStream) -> bool {
    let closed = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(DEADLINE, closed).await.is_ok()
}

/// One response with a `content-length` body: its status line.
async fn read_status(stream: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
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
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed mid-body");
                data.extend_from_slice(&buf[..n]);
            }
            return head.lines().next().unwrap_or_default().to_owned();
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before a response");
        data.extend_from_slice(&buf[..n]);
    }
}

const ANONYMOUS_GET: &[u8] = b"GET /bucket/key HTTP/1.1\r\nhost: s3\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_g_and_stalls_is_disconnected() {
    let endpoint = start(1, 600, 64).await;
    let mut stream = TcpStream::connect(endpoint.addr).await.unwrap();
    stream.write_all(b"G").await.unwrap();
    assert!(closed_before_deadline(&mut stream).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_nothing_is_disconnected() {
    let endpoint = start(600, 1, 64).await;
    let mut stream = TcpStream::connect(endpoint.addr).await.unwrap();
    assert!(closed_before_deadline(&mut stream).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let endpoint = start(600, 1, 64).await;
    let mut stream = TcpStream::connect(endpoint.addr).await.unwrap();
    stream.write_all(ANONYMOUS_GET).await.unwrap();
    let status = tokio::time::timeout(DEADLINE, read_status(&mut stream))
        .await
        .unwrap();
    assert!(status.contains(" 403 "), "{status}");
    assert!(closed_before_deadline(&mut stream).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_at_the_cap_delay_but_do_not_stop_a_request() {
    let endpoint = start(2, 2, 2).await;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(endpoint.addr).await.unwrap();
        stream.write_all(b"G").await.unwrap();
        stalled.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(endpoint.addr).await.unwrap();
    third.write_all(ANONYMOUS_GET).await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "served over the cap of 2 stalled connections"
    );
    let status = tokio::time::timeout(DEADLINE, read_status(&mut third))
        .await
        .expect("served once the stalled connections time out");
    assert!(status.contains(" 403 "), "{status}");
    for mut stream in stalled {
        assert!(closed_before_deadline(&mut stream).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_request_is_answered_and_audited_with_the_client_address() {
    let endpoint = start(1, 1, 64).await;
    let mut stream = TcpStream::connect(endpoint.addr).await.unwrap();
    stream.write_all(ANONYMOUS_GET).await.unwrap();
    let status = tokio::time::timeout(DEADLINE, read_status(&mut stream))
        .await
        .unwrap();
    assert!(status.contains(" 403 "), "{status}");
    endpoint.server.audit().flush().await;
    let events = audit::read(&endpoint.dir.path().join("audit"), &AuditFilter::default()).unwrap();
    let event = events.last().expect("the refusal is audited");
    assert_eq!(event.principal, "anonymous");
    assert_eq!(event.source_ip, "127.0.0.1");
}
