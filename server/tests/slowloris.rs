//! Issue 18, item 5: connections that never finish a request's headers, or never send one,
//! used to be held for over a minute (1,000 of them: descriptors towards the process
//! limit). The HTTP layer now closes them after `limits.http.header_read_timeout_secs`,
//! while a normal client is served.

mod common;

use common::*;
use tokio::{io::AsyncWriteExt, net::TcpStream};

#[tokio::test]
async fn half_sent_and_idle_connections_are_closed_and_others_served() {
    let srv = TestServer::start_with(|s| s.limits.http.header_read_timeout_secs = 1).await;
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
        tcp.write_all(b"GET /healthz HT").await.unwrap();
        stalled.push(tcp);
    }
    for _ in 0..5 {
        stalled.push(TcpStream::connect(srv.addr).await.unwrap());
    }
    // A connection idle after a complete request and response (keep-alive) counts too.
    let mut kept = TcpStream::connect(srv.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: kefu\r\n\r\n")
        .await
        .unwrap();
    stalled.push(kept);

    // Meanwhile a normal client is served.
    let res = srv.http.get(srv.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200, "a normal request is answered");

    let total = stalled.len();
    let answers = futures_util::future::join_all(
        stalled
            .into_iter()
            .map(|mut tcp| async move { read_until_closed(&mut tcp).await }),
    )
    .await;
    assert_eq!(answers.len(), total, "every stalled connection was closed");
    let served = answers
        .iter()
        .filter(|a| a.starts_with(b"HTTP/1.1 200"))
        .count();
    assert_eq!(
        served, 1,
        "only the keep-alive connection got an answer before being closed"
    );
    // A new client: the shared one's pooled connection has idled out at the same 1 s header
    // timeout, and reusing it as the server closes it fails the request (IncompleteMessage).
    let res = reqwest::Client::new()
        .get(srv.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "still serving afterwards");
}
