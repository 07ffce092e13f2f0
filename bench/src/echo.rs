//! The floor: a raw tokio TCP echo server, and the same open-loop client measuring round
//! trips through it. What kefu adds on top (WebSocket, protobuf, SQLite commit, routing) is
//! the difference between its figures and these.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpSocket},
    sync::mpsc,
};

use crate::{
    clock::now_ns,
    track::{self, Hist},
};

/// About the size of a shopper's text message frame on kefu's socket.
const FRAME: usize = 160;

/// Echoes every connection's bytes back; prints its address first.
pub async fn serve() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("echo listening on {}", listener.local_addr()?);
    loop {
        let (mut stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let (mut r, mut w) = stream.split();
            let _ = tokio::io::copy(&mut r, &mut w).await;
        });
    }
}

/// Round trips at `rate` per second for `secs` over `connections` sockets.
pub async fn load(
    addr: SocketAddr,
    source: Ipv4Addr,
    connections: usize,
    rate: f64,
    secs: f64,
) -> anyhow::Result<Hist> {
    let hist = Arc::new(Mutex::new(track::hist()));
    let n = (rate * secs).round() as usize;
    let mut senders = Vec::with_capacity(connections);
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let sock = TcpSocket::new_v4()?;
        sock.bind(SocketAddr::new(source.into(), 0))?;
        let stream = sock.connect(addr).await?;
        stream.set_nodelay(true)?;
        let (mut r, mut w) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
        senders.push(tx);
        tokio::spawn(async move {
            let mut frame = [b'.'; FRAME];
            while let Some(intended) = rx.recv().await {
                frame[..8].copy_from_slice(&intended.to_be_bytes());
                if w.write_all(&frame).await.is_err() {
                    break;
                }
            }
        });
        let hist = hist.clone();
        readers.spawn(async move {
            let mut frame = [0u8; FRAME];
            while r.read_exact(&mut frame).await.is_ok() {
                let intended = u64::from_be_bytes(frame[..8].try_into().expect("8 bytes"));
                let mut h = hist.lock().expect("hist lock");
                track::record(&mut h, intended, now_ns());
                if h.len() as usize >= n {
                    break;
                }
            }
        });
    }
    let peers: Vec<_> = senders.iter().collect();
    crate::worker::paced(&peers, rate, n, |t| t).await;
    // Every round trip comes back, or the floor is not a floor.
    let done = tokio::time::timeout(Duration::from_secs(30), async {
        while hist.lock().expect("hist lock").len() < n as u64 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    readers.abort_all();
    anyhow::ensure!(done.is_ok(), "echo round trips went missing");
    Ok(hist.lock().expect("hist lock").clone())
}
