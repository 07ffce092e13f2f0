//! Authorization and attachments over real sockets: shoppers confined to their own
//! conversations, role checks on agent and admin endpoints, expired and revoked tokens, the
//! shop's signed identity and origin allow-list, and attachment upload/download rules.

mod common;

use common::*;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_server::{
    auth::{identity, token},
    store::{Role, TokenRecord, now_ms},
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite;

/// The first bytes of every PNG file.
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A body that starts like a PNG, `len` bytes long.
fn png(len: usize) -> Vec<u8> {
    let mut b = PNG_MAGIC.to_vec();
    b.resize(len.max(PNG_MAGIC.len()), 0x42);
    b
}

/// Tries a WebSocket upgrade and returns the HTTP status: 101 when it was accepted.
async fn upgrade_status(srv: &TestServer, kind: &str, token: &str, origin: Option<&str>) -> u16 {
    match tokio_tungstenite::connect_async(ws_request(srv.addr, kind, token, origin)).await {
        Ok((mut ws, resp)) => {
            let _ = ws.close(None).await;
            resp.status().as_u16()
        }
        Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("/ws/{kind} upgrade failed without an HTTP answer: {e}"),
    }
}

/// `POST /api/v1/visitor/session` with an optional `Origin`, returning status and body.
async fn visitor_session(srv: &TestServer, body: Value, origin: Option<&str>) -> (u16, Value) {
    let mut req = srv
        .http
        .post(srv.url("/api/v1/visitor/session"))
        .json(&body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Uploads `body` as `content_type` to a conversation, returning status and JSON body.
async fn upload(
    srv: &TestServer,
    conv: &str,
    token: &str,
    file_name: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let res = srv
        .http
        .post(srv.url(&format!("/api/v1/conversations/{conv}/attachments")))
        .query(&[("filename", file_name)])
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Uploads with `Transfer-Encoding: chunked` (no Content-Length), over a raw socket, so the
/// server can only find out the size while streaming. Returns the HTTP status.
async fn upload_chunked(
    srv: &TestServer,
    conv: &str,
    token: &str,
    content_type: &str,
    chunks: &[Vec<u8>],
) -> u16 {
    let mut req = format!(
        "POST /api/v1/conversations/{conv}/attachments?filename=chunked.png HTTP/1.1\r\n\
         Host: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        srv.addr
    )
    .into_bytes();
    for c in chunks {
        req.extend(format!("{:x}\r\n", c.len()).as_bytes());
        req.extend(c);
        req.extend(b"\r\n");
    }
    req.extend(b"0\r\n\r\n");
    let mut sock = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    sock.write_all(&req).await.unwrap();
    let mut resp = Vec::new();
    // Read up to the end of the status line; the server may close right after answering.
    tokio::time::timeout(WAIT, async {
        let mut buf = [0u8; 1024];
        while !resp.windows(2).any(|w| w == b"\r\n") {
            let n = sock.read(&mut buf).await.expect("response readable");
            assert!(n > 0, "server closed before answering the chunked upload");
            resp.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("an answer to the chunked upload within the wait time");
    let line = String::from_utf8_lossy(&resp);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP status line: {line:?}"))
}

/// Sends `req` and returns the error it was refused with. A heartbeat sent right after it
/// marks the point where an answer must have come (frames are handled in order), so a
/// request the server wrongly carried out fails fast and clearly instead of timing out.
async fn refused(ws: &mut Ws, what: &str, req: In) -> pb::Error {
    static MARK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    let mark = MARK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ws.send(req).await;
    ws.send(In::Heartbeat(pb::Heartbeat { at_ms: mark })).await;
    let err = ws
        .recv_until(|k| match k {
            Out::Error(e) => Some(e.clone()),
            Out::Ack(a) => panic!("{what} should be refused but was stored: {a:?}"),
            Out::Heartbeat(h) if h.at_ms == mark => {
                panic!("{what} should be refused but was done")
            }
            _ => None,
        })
        .await;
    // Consume the marker so the next request starts from a clean stream.
    ws.recv_until(|k| matches!(k, Out::Heartbeat(h) if h.at_ms == mark).then_some(()))
        .await;
    err
}

/// Names of the files in the attachment directory (none if it was never created).
fn attachment_files(srv: &TestServer) -> Vec<String> {
    match std::fs::read_dir(srv.settings.attachment_dir()) {
        Ok(dir) => {
            let mut names: Vec<String> = dir
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("reading the attachment dir: {e}"),
    }
}

#[tokio::test]
async fn a_shopper_cannot_read_or_write_another_shoppers_conversation() {
    let srv = TestServer::start().await;
    let (_alice_ws, alice, conv) = shopper_opens(&srv, "alice's private question").await;
    let (mut mallory_ws, mallory, mallory_conv) = shopper_opens(&srv, "mallory here").await;
    assert_ne!(conv, mallory_conv, "each shopper has its own conversation");

    // Writing into Alice's conversation over the socket is refused...
    let err = refused(
        &mut mallory_ws,
        "a message into another shopper's conversation",
        text_msg(conv.clone(), "intrude-1", "injected"),
    )
    .await;
    assert_eq!(
        err.code,
        pb::ErrorCode::Forbidden as i32,
        "sending into someone else's conversation is forbidden: {err:?}"
    );
    assert_eq!(
        err.client_msg_id, "intrude-1",
        "the error names the refused message"
    );

    // ...and so is replaying its history.
    let resume = |conversation_id: String| {
        In::Resume(pb::Resume {
            conversation_id,
            last_seq: 0,
        })
    };
    let frame = refused(
        &mut mallory_ws,
        "resuming another shopper's conversation",
        resume(conv.clone()),
    )
    .await;
    assert_eq!(
        frame.code,
        pb::ErrorCode::Forbidden as i32,
        "resuming someone else's conversation is forbidden: {frame:?}"
    );

    // Typing, read receipts and closing are refused the same way.
    for (what, req) in [
        (
            "typing",
            In::Typing(pb::Typing {
                conversation_id: conv.clone(),
                typing: true,
                who: None,
            }),
        ),
        (
            "a read receipt",
            In::Read(pb::ReadReceipt {
                conversation_id: conv.clone(),
                up_to_seq: 1,
                who: None,
            }),
        ),
        (
            "closing",
            In::Close(pb::CloseConversation {
                conversation_id: conv.clone(),
            }),
        ),
    ] {
        let err = refused(&mut mallory_ws, what, req).await;
        assert_eq!(
            err.code,
            pb::ErrorCode::Forbidden as i32,
            "{what} in someone else's conversation is forbidden: {err:?}"
        );
    }

    // A conversation id that does not exist gets the same answer, so ids cannot be probed.
    let err = refused(
        &mut mallory_ws,
        "resuming an unknown conversation",
        resume(uuid::Uuid::now_v7().to_string()),
    )
    .await;
    assert_eq!(
        err.code,
        pb::ErrorCode::Forbidden as i32,
        "an unknown conversation looks the same as someone else's to a shopper: {err:?}"
    );

    // Over REST too.
    let (status, body) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages"),
            &mallory.token,
        )
        .await;
    assert_eq!(
        status, 403,
        "another shopper's history is forbidden over REST: {body}"
    );
    let (status, _) = srv
        .get(&format!("/api/v1/conversations/{conv}"), &mallory.token)
        .await;
    assert_eq!(status, 403, "another shopper's conversation is forbidden");
    let (status, _) = srv
        .post(
            &format!("/api/v1/conversations/{conv}/close"),
            &mallory.token,
            json!({}),
        )
        .await;
    assert_eq!(
        status, 403,
        "another shopper may not close the conversation"
    );

    // The owner still sees exactly its own messages: nothing was injected, nothing closed.
    let (status, page) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages"),
            &alice.token,
        )
        .await;
    assert_eq!(status, 200, "the owner reads its own history");
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"]["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        ["alice's private question"],
        "the refused message was not stored in Alice's conversation"
    );
    let (_, c) = srv
        .get(&format!("/api/v1/conversations/{conv}"), &alice.token)
        .await;
    assert_ne!(c["state"], "closed", "the refused close changed nothing");

    // An agent outside the conversation's group cannot read it; a supervisor can.
    let outsider = srv
        .agent("outsider", Role::Agent, &["after-sales"], 5)
        .await;
    let sup = srv.agent("sup", Role::Supervisor, &[], 5).await;
    let (status, _) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages"),
            &outsider.token,
        )
        .await;
    assert_eq!(
        status, 403,
        "an agent of another group may not read a queued conversation"
    );
    let (status, _) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages"),
            &sup.token,
        )
        .await;
    assert_eq!(status, 200, "supervisors read every conversation");
}

#[tokio::test]
async fn agent_endpoints_refuse_shopper_tokens() {
    let srv = TestServer::start().await;
    let v = srv.visitor().await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;

    for path in [
        "/api/v1/conversations",
        "/api/v1/me",
        "/api/v1/canned-replies",
        "/api/v1/groups",
    ] {
        let (status, body) = srv.get(path, &v.token).await;
        assert_eq!(
            status, 403,
            "GET {path} must refuse a shopper token: {body}"
        );
        assert_eq!(body["code"], "forbidden", "JSON error code for {path}");
    }
    let (status, _) = srv
        .post(
            "/api/v1/auth/logout",
            &v.token,
            json!({}), // a shopper token is not an agent session
        )
        .await;
    assert_eq!(status, 403, "logout is for agent tokens");

    assert_eq!(
        upgrade_status(&srv, "agent", &v.token, None).await,
        403,
        "/ws/agent refuses a shopper token"
    );
    assert_eq!(
        upgrade_status(&srv, "shopper", &agent.token, Some(ORIGIN)).await,
        403,
        "/ws/shopper refuses an agent token"
    );
    assert_eq!(
        upgrade_status(&srv, "agent", &agent.token, None).await,
        101,
        "the agent's own token opens /ws/agent"
    );

    // `?token=` is for WebSocket upgrades only; REST wants the header (URLs end up in logs).
    let res = srv
        .http
        .get(srv.url(&format!("/api/v1/me?token={}", agent.token)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        401,
        "a token in a REST query string is ignored"
    );

    // No token at all is unauthenticated, not forbidden.
    let res = srv.http.get(srv.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(res.status(), 401, "no credentials: 401");
    assert_eq!(
        upgrade_status(&srv, "agent", "", None).await,
        401,
        "/ws/agent without a token: 401"
    );
}

#[tokio::test]
async fn admin_and_supervisor_endpoints_check_the_role() {
    let srv = TestServer::start().await;
    let admin = srv.agent("root", Role::Admin, &[], 0).await;
    let sup = srv.agent("sue", Role::Supervisor, &["pre-sales"], 5).await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;

    // Accounts and groups are for admins only.
    let new_agent = json!({"username": "newbie", "password": "long enough pw", "role": "agent"});
    for who in [&agent, &sup] {
        let (status, body) = srv
            .post("/api/v1/agents", &who.token, new_agent.clone())
            .await;
        assert_eq!(status, 403, "only admins create accounts: {body}");
        let (status, _) = srv
            .post(
                "/api/v1/groups",
                &who.token,
                json!({"name": "vip", "display_name": "VIP"}),
            )
            .await;
        assert_eq!(status, 403, "only admins create groups");
    }
    let (status, _) = srv.get("/api/v1/agents", &agent.token).await;
    assert_eq!(status, 403, "plain agents cannot list accounts");
    let (status, _) = srv.get("/api/v1/agents", &sup.token).await;
    assert_eq!(status, 200, "supervisors list accounts");
    assert_eq!(
        srv.patch(
            &format!("/api/v1/agents/{}", agent.id),
            &agent.token,
            json!({"role": "admin"}),
        )
        .await,
        403,
        "an agent cannot promote itself"
    );
    let (_, me) = srv.get("/api/v1/me", &agent.token).await;
    assert_eq!(me["role"], "agent", "the refused promotion changed nothing");
    let (status, _) = srv
        .get(&format!("/api/v1/agents/{}", agent.id), &agent.token)
        .await;
    assert_eq!(status, 200, "an agent reads its own account");
    let (status, _) = srv
        .get(&format!("/api/v1/agents/{}", sup.id), &agent.token)
        .await;
    assert_eq!(status, 403, "an agent may not read other accounts");

    // An admin can; the new account can sign in.
    let (status, created) = srv
        .post("/api/v1/agents", &admin.token, new_agent.clone())
        .await;
    assert_eq!(status, 201, "admins create accounts: {created}");
    assert_eq!(created["username"], "newbie");
    assert!(
        created.get("password_hash").is_none_or(|h| h.is_null()),
        "the password hash is never returned: {created}"
    );
    srv.login("newbie", "long enough pw").await;
    let (status, body) = srv.post("/api/v1/agents", &admin.token, new_agent).await;
    assert_eq!(status, 409, "a duplicate username is a conflict: {body}");
    let (status, body) = srv
        .post(
            "/api/v1/agents",
            &admin.token,
            json!({"username": "shorty", "password": "short", "role": "agent"}),
        )
        .await;
    assert_eq!(status, 400, "a short password is refused: {body}");
    let res = srv
        .http
        .post(srv.url("/api/v1/auth/login"))
        .json(&json!({"username": "shorty", "password": "short"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the refused account was not created");
    let (status, _) = srv
        .post(
            "/api/v1/groups",
            &admin.token,
            json!({"name": "vip", "display_name": "VIP"}),
        )
        .await;
    assert_eq!(status, 201, "admins create groups");

    // Canned replies: supervisors manage them, agents only read them.
    let reply = json!({"shortcut": "hi", "title": "Greeting", "body": "Hello! How can I help?"});
    let (status, _) = srv
        .post("/api/v1/canned-replies", &agent.token, reply.clone())
        .await;
    assert_eq!(status, 403, "plain agents cannot create canned replies");
    let (status, created) = srv
        .post("/api/v1/canned-replies", &sup.token, reply.clone())
        .await;
    assert_eq!(status, 201, "supervisors create canned replies: {created}");
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/canned-replies/{id}");
    let edited = json!({"shortcut": "hi", "title": "Greeting", "body": "Hi there!"});
    assert_eq!(
        srv.patch(&path, &agent.token, edited.clone()).await,
        403,
        "plain agents cannot edit canned replies"
    );
    assert_eq!(
        srv.delete(&path, &agent.token).await,
        403,
        "plain agents cannot delete canned replies"
    );
    let (status, list) = srv.get("/api/v1/canned-replies", &agent.token).await;
    assert_eq!(status, 200, "plain agents list canned replies");
    let bodies: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["body"].as_str())
        .collect();
    assert_eq!(
        bodies,
        ["Hello! How can I help?"],
        "the agent's refused edit and delete changed nothing"
    );
    assert_eq!(
        srv.patch(&path, &sup.token, edited).await,
        200,
        "supervisors edit canned replies"
    );
    let (_, list) = srv.get("/api/v1/canned-replies", &agent.token).await;
    assert_eq!(list[0]["body"], "Hi there!", "the edit was stored");
    assert_eq!(
        srv.delete(&path, &sup.token).await,
        204,
        "supervisors delete canned replies"
    );
    let (_, list) = srv.get("/api/v1/canned-replies", &agent.token).await;
    assert_eq!(list, json!([]), "the reply is gone");
}

#[tokio::test]
async fn revoked_expired_and_wrong_credentials_are_refused() {
    let srv = TestServer::start().await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let second = srv.login("ann", PASSWORD).await;

    // Logout revokes exactly the token used.
    let (status, _) = srv.get("/api/v1/me", &agent.token).await;
    assert_eq!(status, 200, "a fresh token works");
    let (status, _) = srv
        .post("/api/v1/auth/logout", &agent.token, json!({}))
        .await;
    assert_eq!(status, 204, "logout succeeds");
    let (status, body) = srv.get("/api/v1/me", &agent.token).await;
    assert_eq!(status, 401, "a revoked token is refused: {body}");
    assert_eq!(body["code"], "unauthenticated");
    assert_eq!(
        upgrade_status(&srv, "agent", &agent.token, None).await,
        401,
        "a revoked token cannot open a socket"
    );
    let (status, _) = srv.get("/api/v1/me", &second).await;
    assert_eq!(status, 200, "the agent's other session is unaffected");

    // An expired token, stored directly, is refused; an unexpired one stored the same way
    // works, so the refusal is about the expiry.
    let agent_id: uuid::Uuid = agent.id.parse().unwrap();
    let now = now_ms();
    let expired = token::generate(token::AGENT_PREFIX);
    let valid = token::generate(token::AGENT_PREFIX);
    for (t, expires_at) in [(&expired, now - 1_000), (&valid, now + 3_600_000)] {
        srv.store
            .insert_token(&TokenRecord {
                token_hash: token::hash(t),
                agent_id,
                created_at: now - 7_200_000,
                expires_at,
                revoked_at: None,
            })
            .await
            .unwrap();
    }
    let (status, body) = srv.get("/api/v1/me", &expired).await;
    assert_eq!(status, 401, "an expired token is refused: {body}");
    assert_eq!(
        upgrade_status(&srv, "agent", &expired, None).await,
        401,
        "an expired token cannot open a socket"
    );
    let (status, _) = srv.get("/api/v1/me", &valid).await;
    assert_eq!(status, 200, "a stored unexpired token works");

    // A disabled account's tokens stop working at once.
    let admin = srv.agent("root", Role::Admin, &[], 0).await;
    assert_eq!(
        srv.patch(
            &format!("/api/v1/agents/{}", agent.id),
            &admin.token,
            json!({"disabled": true}),
        )
        .await,
        200,
        "the admin disables the account"
    );
    let (status, _) = srv.get("/api/v1/me", &valid).await;
    assert_eq!(status, 401, "a disabled account's token is refused");
    assert_eq!(
        upgrade_status(&srv, "agent", &valid, None).await,
        401,
        "a disabled account cannot open a socket"
    );
    let res = srv
        .http
        .post(srv.url("/api/v1/auth/login"))
        .json(&json!({"username": "ann", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a disabled account cannot sign in");

    // An expired shopper token is refused too.
    let (_ws, v, conv) = shopper_opens(&srv, "hello").await;
    let visitor_id: uuid::Uuid = v.id.parse().unwrap();
    srv.store
        .refresh_visitor_token(visitor_id, &token::hash(&v.token), now_ms() - 1_000)
        .await
        .unwrap();
    let (status, _) = srv
        .get(&format!("/api/v1/conversations/{conv}/messages"), &v.token)
        .await;
    assert_eq!(status, 401, "an expired visitor token is refused over REST");
    assert_eq!(
        upgrade_status(&srv, "shopper", &v.token, Some(ORIGIN)).await,
        401,
        "an expired visitor token cannot open a socket"
    );

    // A made-up token and wrong passwords.
    let (status, _) = srv
        .get("/api/v1/me", &token::generate(token::AGENT_PREFIX))
        .await;
    assert_eq!(status, 401, "an unknown token is refused");
    for (user, pass) in [("ann", "wrong password"), ("nobody", PASSWORD)] {
        let res = srv
            .http
            .post(srv.url("/api/v1/auth/login"))
            .json(&json!({"username": user, "password": pass}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            401,
            "login as {user} with a bad password: 401"
        );
        let body: Value = res.json().await.unwrap();
        assert!(
            body.get("token").is_none(),
            "no token on a failed login: {body}"
        );
    }
}

#[tokio::test]
async fn shop_identity_and_origins_are_checked() {
    let srv = TestServer::start().await;
    let sig = identity::sign(SECRET, "cust-42");

    // A correctly signed customer id is accepted and maps to the same visitor every time.
    let (status, first) = visitor_session(
        &srv,
        json!({"site_id": SITE, "customer_id": "cust-42", "signature": sig}),
        Some(ORIGIN),
    )
    .await;
    assert_eq!(status, 200, "a signed identity is accepted: {first}");
    let (status, again) = visitor_session(
        &srv,
        json!({"site_id": SITE, "customer_id": "cust-42", "signature": sig}),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        again["visitor_id"], first["visitor_id"],
        "the same customer is the same visitor on every device"
    );
    let other_sig = identity::sign(SECRET, "cust-43");
    let (_, other) = visitor_session(
        &srv,
        json!({"site_id": SITE, "customer_id": "cust-43", "signature": other_sig}),
        None,
    )
    .await;
    assert_ne!(
        other["visitor_id"], first["visitor_id"],
        "another customer is another visitor"
    );

    // The customer's token without the signature starts afresh, so a token copied from a
    // shared computer does not keep the customer's identity; with it, the token is kept.
    let (status, anon) = visitor_session(
        &srv,
        json!({"site_id": SITE, "visitor_token": first["visitor_token"]}),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(
        anon["visitor_id"], first["visitor_id"],
        "a linked visitor must prove the identity again"
    );
    let (_, kept) = visitor_session(
        &srv,
        json!({"site_id": SITE, "customer_id": "cust-42", "signature": sig,
               "visitor_token": again["visitor_token"]}),
        None,
    )
    .await;
    assert_eq!(kept["visitor_id"], first["visitor_id"]);

    // Claiming a customer id without a valid signature is refused.
    for (what, body) in [
        (
            "another customer's signature",
            json!({"site_id": SITE, "customer_id": "cust-42", "signature": other_sig}),
        ),
        (
            "a signature made with the wrong secret",
            json!({"site_id": SITE, "customer_id": "cust-42",
                   "signature": identity::sign("not-the-secret", "cust-42")}),
        ),
        (
            "a signature that is not hex",
            json!({"site_id": SITE, "customer_id": "cust-42", "signature": "zz"}),
        ),
        (
            "no signature",
            json!({"site_id": SITE, "customer_id": "cust-42"}),
        ),
        (
            "an empty signature",
            json!({"site_id": SITE, "customer_id": "cust-42", "signature": ""}),
        ),
    ] {
        let (status, res) = visitor_session(&srv, body, Some(ORIGIN)).await;
        assert_eq!(status, 401, "{what} must be refused: {res}");
        assert!(res.get("visitor_token").is_none(), "no token for {what}");
    }

    // Unknown sites and foreign origins.
    let (status, _) = visitor_session(&srv, json!({"site_id": "no-such-shop"}), None).await;
    assert_eq!(status, 404, "an unknown site is not found");
    let (status, body) =
        visitor_session(&srv, json!({"site_id": SITE}), Some("http://evil.test")).await;
    assert_eq!(
        status, 403,
        "an origin off the allow-list is refused: {body}"
    );
    let (status, _) = visitor_session(&srv, json!({"site_id": SITE}), Some(ORIGIN)).await;
    assert_eq!(status, 200, "the allowed origin works");

    let v = srv.visitor().await;
    for bad in ["http://evil.test", "http://shop.test.evil.test", "null"] {
        assert_eq!(
            upgrade_status(&srv, "shopper", &v.token, Some(bad)).await,
            403,
            "the shopper socket refuses origin {bad}"
        );
    }
    let ws = srv.shopper_ws(&v).await;
    let you = ws.hello.you.expect("hello names the caller");
    assert_eq!(
        (you.role, you.id.as_str()),
        (pb::Role::Shopper as i32, v.id.as_str()),
        "the allowed origin opens the shopper socket as this visitor"
    );
}

#[tokio::test]
async fn attachments_are_checked_resolved_and_served_only_to_participants() {
    let srv = TestServer::start().await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&agent).await;
    let (mut shopper, v, conv) = shopper_opens(&srv, "here is a photo").await;
    assert_eq!(
        a.accept_next_offer().await,
        conv,
        "the agent takes the chat"
    );
    let (mut other_ws, other, other_conv) = shopper_opens(&srv, "someone else").await;

    // Upload.
    let bytes = png(300);
    let (status, up) = upload(&srv, &conv, &v.token, "a.png", "image/png", bytes.clone()).await;
    assert_eq!(status, 201, "a real PNG is accepted: {up}");
    let att = up["attachment_id"].as_str().unwrap().to_string();
    assert_eq!(up["file_name"], "a.png");
    assert_eq!(up["content_type"], "image/png");
    assert_eq!(
        up["size_bytes"],
        bytes.len(),
        "the server counted the bytes"
    );

    // Another shopper may not upload into this conversation nor reuse this file.
    let (status, _) = upload(&srv, &conv, &other.token, "x.png", "image/png", png(100)).await;
    assert_eq!(status, 403, "uploading into someone else's conversation");
    let attachment_body = |file_name: &str, content_type: &str, size: u64| pb::MessageBody {
        kind: Some(pb::message_body::Kind::Attachment(pb::AttachmentRef {
            attachment_id: att.clone(),
            file_name: file_name.into(),
            content_type: content_type.into(),
            size_bytes: size,
        })),
    };
    let err = refused(
        &mut other_ws,
        "a reference to another conversation's attachment",
        In::Send(pb::SendMessage {
            conversation_id: other_conv.clone(),
            client_msg_id: "steal".into(),
            body: Some(attachment_body("", "", 0)),
            group: String::new(),
            context: None,
        }),
    )
    .await;
    assert_eq!(
        err.code,
        pb::ErrorCode::Forbidden as i32,
        "an attachment of another conversation cannot be referenced: {err:?}"
    );

    // The shopper sends it with lies in the metadata; the agent gets the stored truth.
    shopper
        .send(In::Send(pb::SendMessage {
            conversation_id: conv.clone(),
            client_msg_id: "att-1".into(),
            body: Some(attachment_body("evil.html", "text/html", 1)),
            group: String::new(),
            context: None,
        }))
        .await;
    shopper
        .recv_until(|k| match k {
            Out::Ack(ack) if ack.client_msg_id == "att-1" => Some(()),
            Out::Error(e) if e.client_msg_id == "att-1" => panic!("attachment refused: {e:?}"),
            _ => None,
        })
        .await;
    let m = a.recv_message(|m| m.client_msg_id == "att-1").await;
    match m.body.and_then(|b| b.kind) {
        Some(pb::message_body::Kind::Attachment(r)) => {
            assert_eq!(r.attachment_id, att);
            assert_eq!(r.file_name, "a.png", "file name from the upload");
            assert_eq!(r.content_type, "image/png", "checked type from the upload");
            assert_eq!(r.size_bytes, bytes.len() as u64, "size from the upload");
        }
        other => panic!("the agent should get an attachment body, got {other:?}"),
    }

    // Download: the assigned agent gets the bytes with safe headers; strangers do not.
    let res = srv
        .http
        .get(srv.url(&format!("/api/v1/attachments/{att}")))
        .bearer_auth(&agent.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the assigned agent downloads the file");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("download has a {name} header"))
    };
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(header("x-content-type-options"), "nosniff");
    let disposition = header("content-disposition");
    assert!(
        disposition.contains("filename=\"a.png\""),
        "content-disposition names the file: {disposition}"
    );
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        bytes.as_slice(),
        "the stored bytes come back unchanged"
    );
    let (status, _) = srv
        .get(&format!("/api/v1/attachments/{att}"), &v.token)
        .await;
    assert_eq!(status, 200, "the uploader downloads its own file");
    let (status, _) = srv
        .get(&format!("/api/v1/attachments/{att}"), &other.token)
        .await;
    assert_eq!(status, 403, "another shopper may not download it");
    let outsider = srv.agent("out", Role::Agent, &["after-sales"], 5).await;
    let (status, _) = srv
        .get(&format!("/api/v1/attachments/{att}"), &outsider.token)
        .await;
    assert_eq!(status, 403, "an unrelated agent may not download it");

    // A file name cannot steer where the bytes go or what the header says.
    let (status, sneaky) = upload(
        &srv,
        &conv,
        &v.token,
        "../../etc/\"x\r\n.png",
        "image/png",
        png(50),
    )
    .await;
    assert_eq!(
        status, 201,
        "a hostile file name is cleaned, not fatal: {sneaky}"
    );
    assert_eq!(
        sneaky["file_name"], "x.png",
        "no path, quote or control character survives"
    );
    let sneaky_id = sneaky["attachment_id"].as_str().unwrap().to_string();

    // Types: off the allow-list, or contents that do not match the declared type.
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let (status, body) = upload(&srv, &conv, &v.token, "x.html", "text/html", html.clone()).await;
    assert_eq!(status, 415, "text/html is not accepted: {body}");
    let (status, body) = upload(&srv, &conv, &v.token, "x.png", "image/png", html).await;
    assert_eq!(status, 415, "HTML disguised as a PNG is refused: {body}");
    let (status, _) = upload(&srv, &conv, &v.token, "e.png", "image/png", Vec::new()).await;
    assert_eq!(status, 415, "an empty file is not a PNG");
    let mut expected = vec![att.clone(), sneaky_id];
    expected.sort();
    assert_eq!(
        attachment_files(&srv),
        expected,
        "refused uploads leave nothing behind; accepted files are stored under their ids"
    );
}

#[tokio::test]
async fn oversized_uploads_are_refused_and_leave_nothing_behind() {
    const MAX: usize = 1024;
    let srv = TestServer::start_with(|s| s.attachments.max_bytes = MAX).await;
    let (_ws, v, conv) = shopper_opens(&srv, "big file coming").await;

    // With a Content-Length the server can refuse up front...
    let (status, body) = upload(&srv, &conv, &v.token, "big.png", "image/png", png(MAX + 1)).await;
    assert_eq!(status, 413, "one byte over the limit is too large: {body}");
    assert_eq!(body["code"], "too_large");
    let (status, _) = upload(&srv, &conv, &v.token, "big.png", "image/png", png(4 * MAX)).await;
    assert_eq!(status, 413, "far over the limit is too large");

    // ...without one it must count while streaming, and clean up the partial file.
    let half = png(MAX / 2);
    let status = upload_chunked(
        &srv,
        &conv,
        &v.token,
        "image/png",
        &[half.clone(), vec![0x42; MAX / 2], vec![0x42; 10]],
    )
    .await;
    assert_eq!(status, 413, "a chunked upload over the limit is too large");
    assert_eq!(
        attachment_files(&srv),
        Vec::<String>::new(),
        "no stray (partial) files after refused uploads"
    );

    // Exactly the limit is fine, streamed or not.
    let (status, up) = upload(&srv, &conv, &v.token, "max.png", "image/png", png(MAX)).await;
    assert_eq!(status, 201, "exactly max_bytes is accepted: {up}");
    let status = upload_chunked(
        &srv,
        &conv,
        &v.token,
        "image/png",
        &[half, vec![0x42; MAX / 2]],
    )
    .await;
    assert_eq!(
        status, 201,
        "a chunked upload of exactly max_bytes is accepted"
    );
    let files = attachment_files(&srv);
    assert_eq!(files.len(), 2, "only the two accepted files: {files:?}");
    assert!(
        files.contains(&up["attachment_id"].as_str().unwrap().to_string()),
        "stored under the attachment id: {files:?}"
    );
    assert!(
        files.iter().all(|f| !f.ends_with(".part")),
        "no partial files: {files:?}"
    );
}

#[tokio::test]
async fn an_agent_cannot_act_in_a_colleagues_conversation() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let bob = srv.agent("bob", Role::Agent, &["pre-sales"], 5).await;
    let otto = srv.agent("otto", Role::Agent, &["after-sales"], 5).await;
    let sup = srv.agent("sue", Role::Supervisor, &[], 5).await;
    let mut a = srv.agent_ws(&ann).await;
    let (_shopper, _, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(a.accept_next_offer().await, conv, "ann takes the chat");

    // Bob is in the same group, but the chat is Ann's.
    let mut b = srv.agent_ws(&bob).await;
    let (status, _) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages"),
            &bob.token,
        )
        .await;
    assert_eq!(status, 403, "a colleague may not read an assigned chat");
    let err = refused(
        &mut b,
        "a colleague's message",
        text_msg(conv.clone(), "b1", "let me butt in"),
    )
    .await;
    assert_eq!(
        err.code,
        pb::ErrorCode::Forbidden as i32,
        "a colleague may not write in an assigned chat: {err:?}"
    );
    let err = refused(
        &mut b,
        "a colleague's transfer",
        In::Transfer(pb::TransferConversation {
            conversation_id: conv.clone(),
            to_agent_id: bob.id.clone(),
            to_group: String::new(),
            note: String::new(),
        }),
    )
    .await;
    assert_eq!(
        err.code,
        pb::ErrorCode::Forbidden as i32,
        "a colleague may not transfer the chat to itself: {err:?}"
    );
    let (status, _) = srv
        .post(
            &format!("/api/v1/conversations/{conv}/close"),
            &bob.token,
            json!({}),
        )
        .await;
    assert_eq!(status, 403, "a colleague may not close the chat");
    let (status, c) = srv
        .get(&format!("/api/v1/conversations/{conv}"), &sup.token)
        .await;
    assert_eq!(status, 200, "supervisors see every chat");
    assert_eq!(
        (c["state"].as_str(), c["agent_id"].as_str()),
        (Some("assigned"), Some(ann.id.as_str())),
        "still Ann's, still open"
    );

    // An agent of another group cannot grab a waiting chat.
    let mut o = srv.agent_ws(&otto).await;
    let (_s2, _, conv2) = shopper_opens(&srv, "another").await;
    let offered = b
        .recv_event(|e| {
            matches!(e.kind, Some(pb::conversation_event::Kind::Offered(_)))
                .then(|| e.conversation_id.clone())
        })
        .await;
    assert_eq!(
        offered, conv2,
        "the free pre-sales agent is offered the chat"
    );
    let err = refused(
        &mut o,
        "an accept from outside the group",
        In::Accept(pb::AcceptOffer {
            conversation_id: conv2.clone(),
        }),
    )
    .await;
    assert_eq!(
        err.code,
        pb::ErrorCode::Forbidden as i32,
        "an agent outside the group may not accept: {err:?}"
    );
}

#[tokio::test]
async fn password_guessing_against_one_account_is_slowed_down() {
    let srv = TestServer::start().await;
    srv.agent("target", Role::Agent, &["pre-sales"], 5).await; // one successful login used
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let res = srv
            .http
            .post(srv.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"username": "target", "password": "guess-guess"}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert!(
        statuses.iter().take(9).all(|s| *s == 401),
        "early guesses are simply wrong: {statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&429),
        "after ten attempts a minute, sign-in is refused: {statuses:?}"
    );
    // Another account is not affected.
    srv.agent("bystander", Role::Agent, &["pre-sales"], 5).await;
}
