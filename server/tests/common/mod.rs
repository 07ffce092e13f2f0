//! Test harness: the real server on 127.0.0.1:0 with a temp SQLite database (a fresh
//! PostgreSQL one when `TEST_POSTGRES_URL` is set), driven by real
//! HTTP and WebSocket clients speaking the protobuf contract. It lives in the workspace's test
//! kit (`kefu-testkit`, shared with the desk's tests and the bench); this module names what
//! the server's tests use, so they read `use common::*`.
#![allow(unused_imports)] // each test binary uses a different part of the harness

pub use kefu_testkit::{
    AgentSpec, Endpoint, KefuCommand, KefuProcess, ORIGIN, PASSWORD, SECRET, SITE, TestAgent,
    TestServer, TestVisitor, WAIT, Ws, eventually, is_bot, note_body, read_until_closed,
    shopper_opens, test_settings, test_settings_and_database, text_body, text_msg, text_of,
    ws_request,
};
