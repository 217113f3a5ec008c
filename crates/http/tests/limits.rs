//! The listener's limits, driven over raw TCP: stalled, silent, idle, slow and too many clients.
//! No timing is asserted beyond "closed before a generous deadline" (timeouts of 1-2 s, deadline
//! 10 s), except that a request over the cap is not answered at once.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use podpass_http::{ServeOptions, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const DEADLINE: Duration = Duration::from_secs(10);

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/ip",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                "slow"
            }),
        )
        .route(
            "/upload",
            post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        )
}

async fn start(options: ServeOptions) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, router(), options, async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

fn options(header: u64, idle: u64, max: usize) -> ServeOptions {
    ServeOptions {
        header_read_timeout: Duration::from_secs(header),
        idle_timeout: Duration::from_secs(idle),
        max_connections: max,
        shutdown_timeout: Duration::from_secs(5),
    }
}

/// Whether the server closes `stream` before the deadline (reading and discarding anything it
/// sends first).
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

/// Reads one response with a `content-length` body; returns its status line and body.
async fn read_response(stream: &mut TcpStream) -> (String, String) {
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
                assert!(n > 0, "connection closed mid-body");
                data.extend_from_slice(&buf[..n]);
            }
            let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).to_string();
            let status = head.lines().next().unwrap_or_default().to_owned();
            return (status, body);
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before a response");
        data.extend_from_slice(&buf[..n]);
    }
}

async fn get_on(stream: &mut TcpStream, path: &str) -> (String, String) {
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::timeout(DEADLINE, read_response(stream))
        .await
        .expect("a response before the deadline")
}

#[tokio::test]
async fn a_partial_request_line_is_cut_after_the_header_read_timeout() {
    // The idle timeout is far away: only the header-read timeout can close it.
    let server = start(options(1, 600, 16)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"G").await.unwrap();
    assert!(closed_before_deadline(&mut stream).await);
}

#[tokio::test]
async fn headers_sent_slowly_are_cut_even_while_bytes_keep_coming() {
    let server = start(options(1, 600, 16)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let trickle = async {
        stream.write_all(b"GET / HTTP/1.1\r\n").await?;
        for n in 0..100 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            stream.write_all(format!("x-{n}: y\r\n").as_bytes()).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let cut = tokio::time::timeout(DEADLINE, trickle).await;
    assert!(
        matches!(cut, Ok(Err(_))),
        "a 20 s trickle of headers must be cut by the 1 s header-read timeout"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_idle_timeout() {
    let server = start(options(600, 1, 16)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    assert!(closed_before_deadline(&mut stream).await);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = start(options(600, 1, 16)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut stream, "/").await.1, "ok");
    assert!(closed_before_deadline(&mut stream).await);
}

#[tokio::test]
async fn a_keep_alive_connection_may_wait_longer_than_the_header_timeout_between_requests() {
    // Between requests the idle timeout (5 s) applies, not the header-read timeout (1 s).
    let server = start(options(1, 5, 16)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut stream, "/").await.1, "ok");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(get_on(&mut stream, "/").await.1, "ok");
}

#[tokio::test]
async fn a_slow_but_progressing_upload_is_not_cut() {
    // 4 s of body at 250 ms per chunk: longer than both timeouts, never idle for one.
    let server = start(options(1, 2, 16)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let chunks = 16;
    let head = format!(
        "POST /upload HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n\r\n",
        chunk.len() * chunks
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..chunks {
        tokio::time::sleep(Duration::from_millis(250)).await;
        stream.write_all(&chunk).await.unwrap();
    }
    let (status, body) = tokio::time::timeout(DEADLINE, read_response(&mut stream))
        .await
        .unwrap();
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(body, (chunk.len() * chunks).to_string());
}

#[tokio::test]
async fn a_stalled_upload_is_closed_after_the_idle_timeout() {
    let server = start(options(600, 1, 16)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nhost: test\r\ncontent-length: 1000\r\n\r\nabc")
        .await
        .unwrap();
    assert!(closed_before_deadline(&mut stream).await);
}

#[tokio::test]
async fn a_handler_slower_than_the_idle_timeout_is_not_cut() {
    let server = start(ServeOptions {
        idle_timeout: Duration::from_millis(300),
        ..options(600, 1, 16)
    })
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut stream, "/slow").await.1, "slow");
}

#[tokio::test]
async fn over_the_cap_a_connection_waits_until_the_timeouts_free_a_slot() {
    let server = start(options(2, 2, 2)).await;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(b"G").await.unwrap();
        stalled.push(stream);
    }
    // Let the server accept both before the third arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "the third connection was served while two others held the cap"
    );
    let (status, body) = tokio::time::timeout(DEADLINE, async {
        // The byte read above may have been taken: read the rest as one response.
        read_response(&mut third).await
    })
    .await
    .expect("served once the stalled connections time out");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(body, "ok");
    for mut stream in stalled {
        assert!(closed_before_deadline(&mut stream).await);
    }
}

#[tokio::test]
async fn handlers_see_the_client_address() {
    let server = start(ServeOptions::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    assert_eq!(get_on(&mut stream, "/ip").await.1, local.to_string());
    assert!(stream.nodelay().is_ok());
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_in_flight_requests_finish() {
    let mut server = start(options(600, 600, 16)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = server.stop.take().map(|stop| stop.send(()));
    let (status, body) = tokio::time::timeout(DEADLINE, read_response(&mut stream))
        .await
        .unwrap();
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(body, "slow");
    tokio::time::timeout(DEADLINE, &mut server.task)
        .await
        .expect("serve returns once drained")
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(server.addr).await.is_err());
}
