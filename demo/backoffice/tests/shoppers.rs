//! The demo's scripted shoppers against a real `kefu --demo`: one arrives, is offered to the
//! demo admin, and answers the agent's reply over the widget's socket.

use kefu_demo_backoffice::{dataset, shoppers};
use kefu_testkit::{KefuCommand, Ws, text_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_shopper_asks_and_answers_the_agent() {
    // kefu --demo allows the back office's origin for its demo site: pretend to be it.
    let shop = "http://127.0.0.1:18090";
    let kefu = KefuCommand::new()
        .env("KEFU_INTEGRATIONS__BACKOFFICE__BASE_URL", shop)
        .arg("--demo")
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let token = kefu.login("demo", "kefu-demo").await;
    let mut agent = Ws::connect(kefu.addr, "agent", &token, None).await;

    let script = shoppers::Script {
        kefu_url: format!("http://{}", kefu.addr),
        origin: shop.into(),
        identity_secret: kefu_demo_backoffice::DEFAULT_IDENTITY_SECRET.into(),
        customers: shoppers::customers(&dataset(kefu_demo_backoffice::DEFAULT_SEED)),
        // Answer at once: the test's waits are bounded, a loaded machine is slow enough.
        thinking: 0..1,
    };
    let running = tokio::spawn(shoppers::run(script, 1));

    let conv = agent.accept_next_offer().await;
    let opener = agent
        .recv_message(|m| m.conversation_id == conv && text_of(m).is_some())
        .await;
    assert!(
        !text_of(&opener).unwrap().is_empty(),
        "the shopper opened with a question"
    );
    agent.say(&conv, "reply-1", "您好，我来帮您查一下。").await;
    let answer = agent
        .recv_message(|m| {
            m.conversation_id == conv && m.seq > opener.seq && text_of(m).is_some() && {
                let role = m.sender.as_ref().map(|s| s.role);
                role == Some(kefu_proto::v1::Role::Shopper as i32)
            }
        })
        .await;
    assert!(
        !text_of(&answer).unwrap().is_empty(),
        "the shopper answered the agent"
    );
    running.abort();
}
