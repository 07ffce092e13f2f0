//! The built-in plugins against the real server: keyword escalation, the FAQ bot and its
//! hand-off, business hours, and start-up refusing bad settings.

mod common;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use common::*;
use kefu_server::{
    plugins::{Context, HookResult, Lifecycle, Plugin, Registry},
    store::{Body, ConvState, Priority, Role, SenderRole, StoredMessage},
};
use serde::Deserialize;
use serde_json::{Value, json};

/// Runs after every built-in plugin and records what it heard: once a message's
/// `client_msg_id` (or a conversation's opening) is here, the plugins before it are done
/// with it and their actions are stored. Lets tests prove a plugin stayed silent.
struct Barrier(Arc<Mutex<Vec<String>>>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Nothing {}

#[async_trait]
impl Plugin for Barrier {
    fn name(&self) -> &str {
        "barrier"
    }
    fn priority(&self) -> i32 {
        -1000
    }
    async fn on_message(&self, _: &mut Context, m: &StoredMessage) -> HookResult {
        self.0.lock().unwrap().push(m.client_msg_id.clone());
        Ok(())
    }
    async fn on_lifecycle(&self, ctx: &mut Context, e: &Lifecycle) -> HookResult {
        if matches!(e, Lifecycle::Opened { .. }) {
            self.0
                .lock()
                .unwrap()
                .push(format!("opened {}", ctx.conversation.id));
        }
        Ok(())
    }
}

/// The real server with the built-in plugins as `plugins` declares them, plus the barrier.
async fn start(plugins: Value) -> (TestServer, Arc<Mutex<Vec<String>>>) {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let registry =
        Registry::builtin().register("barrier", move |_: Nothing| Ok(Barrier(sink.clone())));
    let srv = TestServer::start_with_plugins(
        |s| {
            for (name, table) in plugins.as_object().unwrap() {
                s.plugins.insert(name.clone(), table.clone());
            }
            s.plugins.insert("barrier".into(), json!({}));
        },
        registry,
    )
    .await;
    (srv, heard)
}

/// Waits until every plugin has handled the entry `what` (a `client_msg_id`, or
/// `opened <conversation id>`).
async fn passed(heard: &Arc<Mutex<Vec<String>>>, what: &str) {
    eventually(&format!("the plugins handled {what}"), || async {
        heard
            .lock()
            .unwrap()
            .iter()
            .any(|h| h == what)
            .then_some(())
    })
    .await;
}

async fn conversation(srv: &TestServer, conv: &str) -> kefu_server::store::Conversation {
    srv.store.conversation(conv.parse().unwrap()).await.unwrap()
}

/// Everything stored in the conversation, private notes included.
async fn history(srv: &TestServer, conv: &str) -> Vec<StoredMessage> {
    srv.store
        .messages_after(conv.parse().unwrap(), 0, 500, true)
        .await
        .unwrap()
}

/// Texts of the bot messages shoppers see, oldest first.
async fn bot_replies(srv: &TestServer, conv: &str) -> Vec<String> {
    history(srv, conv)
        .await
        .into_iter()
        .filter(|m| m.sender_role == SenderRole::Bot)
        .filter_map(|m| match m.body {
            Body::Text { text } => Some(text),
            _ => None,
        })
        .collect()
}

fn faq_settings() -> Value {
    json!({
        "bot_name": "小助手",
        "handoff_group": "after-sales",
        "entries": [
            {
                "questions": ["运费怎么算", "邮费多少"],
                "keywords": ["运费", "邮费", "shipping"],
                "answer": "满99元包邮，否则运费10元。"
            },
            {
                "questions": ["怎么退货", "如何申请退货"],
                "keywords": ["退货"],
                "answer": "在“我的订单”里点“申请退货”即可。"
            }
        ]
    })
}

#[tokio::test]
async fn keywords_route_prioritise_and_tag_once_and_word_rules_need_whole_words() {
    let (srv, heard) = start(json!({
        "keyword_escalation": {"rules": [
            {
                "keywords": ["投诉", "complaint"],
                "group": "after-sales",
                "priority": "high",
                "tags": ["complaint"]
            },
            {"keywords": ["invoice", "发票"], "match": "word", "tags": ["invoice"]}
        ]},
        // Would hand an escalated complaint back to pre-sales if it did not stand back.
        "faq": {
            "handoff_group": "pre-sales",
            "entries": [{
                "questions": ["where is my invoice"],
                "keywords": ["invoice"],
                "answer": "Invoices are under My orders."
            }]
        }
    }))
    .await;
    let pat = srv.agent("pat", Role::Agent, &["pre-sales"], 5).await;
    let ann = srv.agent("ann", Role::Agent, &["after-sales"], 5).await;
    let _pre_sales = srv.agent_ws(&pat).await;
    let mut after_sales = srv.agent_ws(&ann).await;

    // "invoices" holds "invoice" only inside a longer word: the word rule must not fire.
    let (mut shopper, _, conv) = shopper_opens(&srv, "Where are my invoices?").await;
    shopper
        .say(&conv, "complain", "我要投诉，快递把杯子摔碎了")
        .await;
    let offered = after_sales.accept_next_offer().await;
    assert_eq!(
        offered, conv,
        "the complaint goes to after-sales, not pre-sales"
    );
    passed(&heard, "complain").await;

    let c = conversation(&srv, &conv).await;
    assert_eq!(c.agent_id.map(|a| a.to_string()), Some(ann.id.clone()));
    assert_eq!(c.group, "after-sales");
    assert_eq!(c.priority, Priority::High, "the rule raised the priority");
    assert!(c.tags.contains(&"complaint".to_string()), "{:?}", c.tags);
    assert!(
        !c.tags.contains(&"invoice".to_string()),
        "“invoices” is not the word “invoice”: {:?}",
        c.tags
    );
    let notes: Vec<String> = history(&srv, &conv)
        .await
        .into_iter()
        .filter_map(|m| match m.body {
            Body::PrivateNote { text } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(
        notes,
        ["Keyword escalation: “投诉” → after-sales, priority high, tagged complaint"],
        "agents are told what matched and what was done"
    );
    let replies = bot_replies(&srv, &conv).await;
    assert_eq!(
        replies.len(),
        1,
        "the FAQ bot answered the invoice question only: {replies:?}"
    );

    // The rule fires once: a second complaint after the agent lowered the priority changes
    // nothing; the whole word "invoice" fires the word rule.
    srv.store
        .set_priority(c.id, Priority::Normal)
        .await
        .unwrap();
    shopper
        .say(&conv, "again", "complaint! I need an invoice")
        .await;
    passed(&heard, "again").await;
    let c = conversation(&srv, &conv).await;
    assert!(c.tags.contains(&"invoice".to_string()), "{:?}", c.tags);
    assert_eq!(
        c.priority,
        Priority::Normal,
        "the complaint rule already fired"
    );
    let notes = history(&srv, &conv)
        .await
        .into_iter()
        .filter(|m| m.body.is_private())
        .count();
    assert_eq!(notes, 2, "one note per rule that fired");
    srv.shutdown().await;
}

#[tokio::test]
async fn faq_answers_a_chinese_question_in_other_words_until_an_agent_takes_over() {
    let (srv, heard) = start(json!({ "faq": faq_settings() })).await;
    // Worded unlike either question; shares only the keyword "运费" and "多少".
    let visitor = srv.visitor().await;
    let mut shopper = srv.shopper_ws(&visitor).await;
    let conv = shopper
        .say("", "ask", "请问运费是多少钱？")
        .await
        .conversation_id;
    let answer = shopper.recv_message(is_bot).await;
    assert_eq!(
        text_of(&answer),
        Some(
            "满99元包邮，否则运费10元。\n\n回复“人工”转人工客服 · Reply “human” to talk to a person."
        ),
        "the best entry's answer with the hint how to reach a person"
    );
    assert_eq!(answer.sender.unwrap().display_name, "小助手");
    passed(&heard, "ask").await;
    let c = conversation(&srv, &conv).await;
    assert_eq!(c.tags, ["faq-answered"]);
    assert_eq!(
        c.state,
        ConvState::Queued,
        "answering does not take it out of the queue"
    );

    // Once an agent has the conversation, the bot leaves the talking to them.
    let pat = srv.agent("pat", Role::Agent, &["pre-sales"], 5).await;
    let mut desk = srv.agent_ws(&pat).await;
    desk.accept_next_offer().await;
    shopper.say(&conv, "again", "怎么退货").await;
    passed(&heard, "again").await;
    assert_eq!(
        bot_replies(&srv, &conv).await.len(),
        1,
        "no answer once assigned"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn faq_hands_off_when_asked_or_unsure_and_then_stays_silent() {
    let (srv, heard) = start(json!({ "faq": faq_settings() })).await;
    let ann = srv.agent("ann", Role::Agent, &["after-sales"], 5).await;
    let mut after_sales = srv.agent_ws(&ann).await;

    // Asked: "转人工".
    let (mut shopper, _, asked) = shopper_opens(&srv, "运费怎么算").await;
    shopper.recv_message(is_bot).await;
    shopper.say(&asked, "human", "转人工").await;
    let reply = shopper.recv_message(is_bot).await;
    assert_eq!(
        text_of(&reply),
        Some("好的，正在为您转接人工客服。/ Connecting you to a human agent.")
    );
    assert_eq!(
        after_sales.accept_next_offer().await,
        asked,
        "handed to handoff_group"
    );
    let c = conversation(&srv, &asked).await;
    assert!(c.tags.contains(&"handoff".to_string()), "{:?}", c.tags);
    assert_eq!(c.priority, Priority::High);

    // Unsure: nothing in the knowledge base is about shops.
    let (mut shopper, _, unsure) = shopper_opens(&srv, "你们的实体店在哪里？").await;
    let reply = shopper.recv_message(is_bot).await;
    assert!(
        text_of(&reply).is_some_and(|t| t.contains("I'm not sure about that")),
        "{reply:?}"
    );
    // After handing off, even a question it could answer gets no reply.
    shopper.say(&unsure, "later", "运费怎么算").await;
    passed(&heard, "later").await;
    assert_eq!(
        bot_replies(&srv, &unsure).await.len(),
        1,
        "silent after the hand-off"
    );
    let c = conversation(&srv, &unsure).await;
    assert_eq!(c.group, "after-sales", "handed to handoff_group");
    assert_eq!(c.priority, Priority::High);
    assert_eq!(c.state, ConvState::Queued, "still waiting for a person");
    assert!(c.tags.contains(&"handoff".to_string()), "{:?}", c.tags);
    srv.shutdown().await;
}

#[tokio::test]
async fn out_of_hours_openings_get_the_message_and_go_to_the_leave_message_group() {
    let (srv, heard) = start(json!({
        "business_hours": {"days": [], "leave_message_group": "after-sales"}
    }))
    .await;
    let (mut shopper, _, conv) = shopper_opens(&srv, "hello?").await;
    let reply = shopper.recv_message(is_bot).await;
    assert!(
        text_of(&reply).is_some_and(|t| t.contains("Leave us a message")),
        "{reply:?}"
    );
    passed(&heard, &format!("opened {conv}")).await;
    let c = conversation(&srv, &conv).await;
    assert_eq!(c.tags, ["after-hours"]);
    assert_eq!(c.group, "after-sales");
    // Later messages do not repeat it.
    shopper.say(&conv, "more", "my order is late").await;
    passed(&heard, "more").await;
    assert_eq!(bot_replies(&srv, &conv).await.len(), 1);
    srv.shutdown().await;

    let all_week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let (srv, heard) = start(json!({
        "business_hours": {"days": all_week, "open": "00:00", "close": "24:00"}
    }))
    .await;
    let (_shopper, _, conv) = shopper_opens(&srv, "hello?").await;
    passed(&heard, &format!("opened {conv}")).await;
    let c = conversation(&srv, &conv).await;
    assert!(
        bot_replies(&srv, &conv).await.is_empty(),
        "open: no auto-reply"
    );
    assert!(c.tags.is_empty(), "{:?}", c.tags);
    assert_eq!(c.group, "pre-sales");
    srv.shutdown().await;
}

#[test]
fn bad_settings_fail_start_up_naming_the_key() {
    let refused = |name: &str, table: Value| {
        let declared = BTreeMap::from([(name.to_string(), table)]);
        let err = Registry::builtin()
            .build(&declared)
            .err()
            .unwrap_or_else(|| panic!("{name} settings should be refused"));
        format!("{err:#}")
    };
    let err = refused("keyword_escalaton", json!({}));
    assert!(
        err.contains("plugins.keyword_escalaton") && err.contains("keyword_escalation"),
        "names the key and the known plugins: {err}"
    );
    let rule = json!({"keywords": ["投诉"], "tags": ["complaint"]});
    let err = refused("keyword_escalation", json!({"rules": [rule], "rulez": []}));
    assert!(
        err.contains("plugins.keyword_escalation") && err.contains("rulez"),
        "{err}"
    );
    let err = refused(
        "keyword_escalation",
        json!({"rules": [{"keywords": ["投诉"], "grup": "after-sales"}]}),
    );
    assert!(err.contains("grup"), "{err}");
    let err = refused(
        "keyword_escalation",
        json!({"rules": [{"keywords": ["投诉"]}]}),
    );
    assert!(
        err.contains("rules[0]") && err.contains("nothing to do"),
        "{err}"
    );
    let err = refused("business_hours", json!({"open": "25:00"}));
    assert!(
        err.contains("plugins.business_hours") && err.contains("`25:00`"),
        "{err}"
    );
    let err = refused("business_hours", json!({"days": ["monday"]}));
    assert!(err.contains("`monday`"), "{err}");
    let err = refused("faq", json!({"entries": [], "threshold": 0.5}));
    assert!(
        err.contains("plugins.faq") && err.contains("entries"),
        "{err}"
    );
    let mut faq = faq_settings();
    faq["threshold"] = json!(1.5);
    assert!(refused("faq", faq).contains("threshold"));

    // The documented examples are accepted.
    let declared = BTreeMap::from([
        ("faq".to_string(), faq_settings()),
        (
            "business_hours".to_string(),
            json!({"utc_offset": "+08:00", "close": "24:00"}),
        ),
        ("keyword_escalation".to_string(), json!({"rules": [rule]})),
    ]);
    let names: Vec<String> = Registry::builtin()
        .build(&declared)
        .unwrap()
        .iter()
        .map(|d| d.plugin.name().to_string())
        .collect();
    assert_eq!(
        names,
        ["business_hours", "keyword_escalation", "faq"],
        "priority order"
    );
}
