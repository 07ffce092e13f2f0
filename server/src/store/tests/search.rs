//! What search must find on every backend: Chinese (four-character and two-character
//! words, a word at the very end of a text) and English (any case, substrings), every
//! criterion, ranking, paging, private notes and what each scope sees.
//!
//! The suite shares its store with the other behaviour checks: every conversation here is
//! opened in groups `search-a` / `search-b` at [`T`] or later and by shoppers and agents of
//! its own, so the queries find only these.

use uuid::Uuid;

use super::super::*;

/// When this suite's conversations open (unix ms): far from the other checks' times.
const T: i64 = 1_700_000_000_000;

/// The conversations, by what is said in them.
struct Fixture {
    ann: Uuid,
    bob: Uuid,
    /// 张伟 (search-a, ann's): "我要退货，快递单号是 SF1234567890", ann's reply and her
    /// private note; the page's order ORD-1001; tagged `search-vip`.
    c1: Uuid,
    /// Alice Smith (search-b, bob's): "Where is my PARCEL? …", bob's reply, an order card.
    c2: Uuid,
    /// 李娜 (search-a, queued): "退货运费谁出".
    c3: Uuid,
    /// 王芳 (search-a, bob's, closed): a long text ending in "退货运费怎么算", bob's reply, a
    /// return card for ORD-4004; tagged `search-vip`.
    c4: Uuid,
    /// 赵敏 (search-b, queued): "我要退货".
    c5: Uuid,
    /// 孙丽 (search-b, queued): "我要退货" too, later.
    c6: Uuid,
}

pub async fn suite(store: &dyn Store) {
    let f = fixture(store).await;
    chinese_words_of_any_length_are_found(store, &f).await;
    english_is_found_by_substring_in_any_case(store, &f).await;
    the_better_match_ranks_first_then_the_newer(store, &f).await;
    private_notes_match_only_when_asked(store, &f).await;
    customers_orders_tags_agents_and_dates_narrow_the_search(store, &f).await;
    an_agent_finds_its_groups_and_what_it_handled(store, &f).await;
    pages_split_the_results_and_keep_the_total(store, &f).await;
}

/// A query in `scope` for `text`.
fn query(scope: SearchScope, text: Option<&str>) -> SearchQuery {
    let mut q = SearchQuery::new(scope);
    q.text = text.map(str::to_owned);
    q
}

/// Every conversation `search-a` or `search-b` holds or an agent handled.
fn both_groups(agent: Uuid) -> SearchScope {
    SearchScope::Agent {
        agent_id: agent,
        groups: vec!["search-a".into(), "search-b".into()],
    }
}

async fn ids(store: &dyn Store, q: &SearchQuery) -> Vec<Uuid> {
    let page = store.search(q).await.unwrap();
    assert_eq!(
        page.total,
        page.results.len() as i64,
        "{:?}: one page holds them all",
        q.text
    );
    page.results.iter().map(|r| r.conversation_id).collect()
}

fn sorted(mut v: Vec<Uuid>) -> Vec<Uuid> {
    v.sort();
    v
}

async fn fixture(store: &dyn Store) -> Fixture {
    // Read back, not written out: a conversation and a visitor with whatever fields the
    // model has, which each one below changes where it matters.
    let template = store
        .conversation(super::conversation(store).await)
        .await
        .unwrap();
    let visitor = store.visitor(template.visitor_id).await.unwrap();
    let ann = store
        .create_agent(&super::new_agent("search-ann"))
        .await
        .unwrap()
        .id;
    let bob = store
        .create_agent(&super::new_agent("search-bob"))
        .await
        .unwrap()
        .id;

    let open = |name: &'static str, group: &'static str, at: i64| {
        let (template, visitor) = (template.clone(), visitor.clone());
        async move {
            let v = Visitor {
                id: Uuid::now_v7(),
                token_hash: Uuid::now_v7().to_string(),
                display_name: name.into(),
                ..visitor
            };
            store.create_visitor(&v).await.unwrap();
            let c = Conversation {
                id: Uuid::now_v7(),
                visitor_id: v.id,
                group: group.into(),
                created_at: at,
                updated_at: at,
                ..template
            };
            store.create_conversation(&c).await.unwrap();
            (c.id, v.id)
        }
    };
    let say = |conv: Uuid, sender: (SenderRole, Uuid), body: Body, at: i64| NewMessage {
        conversation_id: conv,
        client_msg_id: Uuid::now_v7().to_string(),
        sender_role: sender.0,
        sender_id: sender.1,
        sender_name: "someone".into(),
        body,
        created_at: at,
    };
    let text = |t: &str| Body::Text { text: t.into() };
    let (agent_ann, agent_bob) = ((SenderRole::Agent, ann), (SenderRole::Agent, bob));

    let (c1, v1) = open("张伟", "search-a", T + 1000).await;
    store
        .set_visitor_contact(v1, Some("zhang.wei@example.com"), Some("13800138000"))
        .await
        .unwrap();
    assert!(store.assign_if_unassigned(c1, ann, T + 1050).await.unwrap());
    store
        .set_page_context(
            c1,
            &PageContext {
                order_id: Some("ORD-1001".into()),
                ..PageContext::default()
            },
        )
        .await
        .unwrap();
    store.add_tags(c1, &["search-vip".into()]).await.unwrap();
    let shopper1 = (SenderRole::Shopper, v1);
    store
        .append_messages(&[
            say(
                c1,
                shopper1,
                text("我要退货，快递单号是 SF1234567890"),
                T + 1100,
            ),
            say(c1, agent_ann, text("好的，已为您登记"), T + 1200),
            say(
                c1,
                agent_ann,
                Body::PrivateNote {
                    text: "客户要求加急处理".into(),
                },
                T + 1300,
            ),
        ])
        .await
        .unwrap();

    let (c2, v2) = open("Alice Smith", "search-b", T + 2000).await;
    store
        .link_customer(v2, "C-42", "Alice Smith")
        .await
        .unwrap();
    assert!(store.assign_if_unassigned(c2, bob, T + 2050).await.unwrap());
    let order_card = Body::OrderCard {
        order_id: "ORD-2002".into(),
        status: "shipped".into(),
        total_minor: 9900,
        currency: "USD".into(),
        placed_at_ms: T,
        item_count: 1,
        tracking_url: String::new(),
    };
    store
        .append_messages(&[
            say(
                c2,
                (SenderRole::Shopper, v2),
                text("Where is my PARCEL? Order ORD-2002"),
                T + 2100,
            ),
            say(c2, agent_bob, text("Your parcel ships today."), T + 2200),
            say(c2, agent_bob, order_card, T + 2300),
        ])
        .await
        .unwrap();

    let (c3, v3) = open("李娜", "search-a", T + 3000).await;
    store
        .append_messages(&[say(
            c3,
            (SenderRole::Shopper, v3),
            text("退货运费谁出"),
            T + 3100,
        )])
        .await
        .unwrap();

    let (c4, v4) = open("王芳", "search-a", T + 4000).await;
    assert!(store.assign_if_unassigned(c4, bob, T + 4050).await.unwrap());
    store.add_tags(c4, &["search-vip".into()]).await.unwrap();
    let long = format!(
        "你好，{}想问一下退货运费怎么算",
        "我上周买的衣服尺码不合适，".repeat(15)
    );
    let return_card = Body::ReturnCard {
        return_id: "RMA-9".into(),
        order_id: "ORD-4004".into(),
        status: "open".into(),
        item_count: 1,
        refund_minor: 5000,
        currency: "CNY".into(),
    };
    store
        .append_messages(&[
            say(c4, (SenderRole::Shopper, v4), text(&long), T + 4100),
            say(c4, agent_bob, text("运费由我们承担"), T + 4200),
            say(c4, agent_bob, return_card, T + 4300),
        ])
        .await
        .unwrap();
    assert!(
        store
            .close_conversation(c4, "resolved", T + 4400)
            .await
            .unwrap()
    );

    let (c5, v5) = open("赵敏", "search-b", T + 5000).await;
    store
        .append_messages(&[say(
            c5,
            (SenderRole::Shopper, v5),
            text("我要退货"),
            T + 5100,
        )])
        .await
        .unwrap();
    let (c6, v6) = open("孙丽", "search-b", T + 6000).await;
    store
        .append_messages(&[say(
            c6,
            (SenderRole::Shopper, v6),
            text("我要退货"),
            T + 6100,
        )])
        .await
        .unwrap();
    Fixture {
        ann,
        bob,
        c1,
        c2,
        c3,
        c4,
        c5,
        c6,
    }
}

async fn chinese_words_of_any_length_are_found(store: &dyn Store, f: &Fixture) {
    let page = store
        .search(&query(SearchScope::All, Some("快递单号")))
        .await
        .unwrap();
    assert_eq!(page.total, 1, "a four-character word: {page:?}");
    let hit = &page.results[0];
    assert_eq!(hit.conversation_id, f.c1);
    assert_eq!(hit.seq, Some(1), "the shopper's first message matched");
    assert_eq!(hit.snippet, "我要退货，快递单号是 SF1234567890");
    assert_eq!(
        (hit.customer_name.as_str(), hit.group.as_str(), hit.agent_id),
        ("张伟", "search-a", Some(f.ann)),
        "the result says whose conversation it is"
    );

    // Two characters: below a trigram, and in c5/c6 the very end of the text.
    assert_eq!(
        sorted(ids(store, &query(SearchScope::All, Some("退货"))).await),
        sorted(vec![f.c1, f.c3, f.c4, f.c5, f.c6]),
        "a two-character word anywhere in a text"
    );
    assert_eq!(
        ids(store, &query(SearchScope::All, Some("谁出"))).await,
        [f.c3],
        "at the end of a text"
    );
    assert_eq!(
        ids(store, &query(SearchScope::All, Some("退货 加急"))).await,
        Vec::<Uuid>::new(),
        "each word in the same message: 退货 and 加急 are in two"
    );
    assert_eq!(
        ids(store, &query(SearchScope::All, Some("快递 SF123"))).await,
        [f.c1],
        "a short and a long word in one message"
    );

    // A long text is cut around the match.
    let page = store
        .search(&query(SearchScope::All, Some("退货运费怎么算")))
        .await
        .unwrap();
    let snippet = &page.results[0].snippet;
    assert!(
        snippet.starts_with('…') && snippet.ends_with("退货运费怎么算"),
        "cut before the match, which ends the text: {snippet}"
    );
    assert_eq!(snippet.chars().count(), search::SNIPPET_CHARS + 1);
}

async fn english_is_found_by_substring_in_any_case(store: &dyn Store, f: &Fixture) {
    for q in ["parcel", "PARCEL", "Parc", "arce"] {
        let page = store
            .search(&query(SearchScope::All, Some(q)))
            .await
            .unwrap();
        assert_eq!(page.total, 1, "{q}: {page:?}");
        let hit = &page.results[0];
        assert_eq!(hit.conversation_id, f.c2, "{q}");
        assert!(
            hit.snippet.to_lowercase().contains("parcel"),
            "{q}: the snippet shows the match: {}",
            hit.snippet
        );
    }
    let page = store
        .search(&query(SearchScope::All, Some("ships PARCEL")))
        .await
        .unwrap();
    assert_eq!(
        (page.total, page.results[0].seq),
        (1, Some(2)),
        "both words are in bob's reply only"
    );
    assert_eq!(page.results[0].snippet, "Your parcel ships today.");
    assert_eq!(
        ids(store, &query(SearchScope::All, Some("where ships"))).await,
        Vec::<Uuid>::new(),
        "not in one message"
    );
    assert_eq!(
        ids(store, &query(SearchScope::All, Some("50%_off"))).await,
        Vec::<Uuid>::new(),
        "wildcards are taken literally"
    );
}

async fn the_better_match_ranks_first_then_the_newer(store: &dyn Store, f: &Fixture) {
    assert_eq!(
        ids(store, &query(SearchScope::All, Some("退货运费"))).await,
        [f.c3, f.c4],
        "the short message that is nearly the query ranks above the newer long one"
    );
    assert_eq!(
        ids(store, &query(SearchScope::All, Some("我要退货"))).await,
        [f.c6, f.c5, f.c1],
        "equal matches newest first, the longer text after them"
    );
    // No text: newest first.
    let mut q = SearchQuery::new(SearchScope::All);
    q.tag = Some("search-vip".into());
    assert_eq!(ids(store, &q).await, [f.c4, f.c1]);
}

async fn private_notes_match_only_when_asked(store: &dyn Store, f: &Fixture) {
    let mut q = query(SearchScope::All, Some("加急"));
    let page = store.search(&q).await.unwrap();
    assert_eq!(
        (
            page.total,
            page.results[0].conversation_id,
            page.results[0].seq
        ),
        (1, f.c1, Some(3)),
        "an agent finds ann's note"
    );
    q.include_private = false;
    assert_eq!(
        store.search(&q).await.unwrap().total,
        0,
        "a note is never found for a shopper"
    );
    // Nor shown as the snippet of a conversation that matched otherwise.
    q.text = None;
    q.customer = Some("张伟".into());
    let page = store.search(&q).await.unwrap();
    assert!(!page.results[0].snippet.contains("加急"), "{page:?}");
}

async fn customers_orders_tags_agents_and_dates_narrow_the_search(store: &dyn Store, f: &Fixture) {
    let by = |set: fn(&mut SearchQuery)| {
        let mut q = SearchQuery::new(SearchScope::All);
        set(&mut q);
        q
    };
    for (customer, expected) in [
        ("张伟", f.c1),
        ("zhang.wei@", f.c1),
        ("138001", f.c1),
        ("alice", f.c2),
        ("c-42", f.c2),
        ("李娜", f.c3),
    ] {
        let mut q = SearchQuery::new(SearchScope::All);
        q.customer = Some(customer.into());
        assert_eq!(ids(store, &q).await, [expected], "customer {customer}");
    }

    // The page's order: no message matched, so no seq and the first message as snippet.
    let page = store
        .search(&by(|q| q.order = Some("ord-1001".into())))
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(
        (page.results[0].conversation_id, page.results[0].seq),
        (f.c1, None)
    );
    assert_eq!(page.results[0].snippet, "我要退货，快递单号是 SF1234567890");
    // In a text and on an order card; on a return card; in a shopper's text.
    let page = store
        .search(&by(|q| q.order = Some("ORD-2002".into())))
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.results[0].conversation_id, f.c2);
    assert!(page.results[0].seq.is_some(), "a message matched: {page:?}");
    let page = store
        .search(&by(|q| q.order = Some("ORD-4004".into())))
        .await
        .unwrap();
    assert_eq!(
        (
            page.total,
            page.results[0].seq,
            page.results[0].snippet.as_str()
        ),
        (1, Some(3), "RMA-9 ORD-4004"),
        "the return card"
    );
    let page = store
        .search(&by(|q| q.order = Some("SF1234567890".into())))
        .await
        .unwrap();
    assert_eq!((page.total, page.results[0].seq), (1, Some(1)));
    // Text and order together: both must hold.
    let mut q = query(SearchScope::All, Some("退货"));
    q.order = Some("ORD-1001".into());
    assert_eq!(ids(store, &q).await, [f.c1]);

    let mut q = SearchQuery::new(SearchScope::All);
    q.tag = Some("search-vip".into());
    q.text = Some("退货".into());
    assert_eq!(
        sorted(ids(store, &q).await),
        sorted(vec![f.c1, f.c4]),
        "tag and text"
    );
    q.tag = Some("search".into());
    assert_eq!(ids(store, &q).await, Vec::<Uuid>::new(), "tags match whole");

    let mut q = SearchQuery::new(SearchScope::All);
    q.agent = Some(f.bob);
    assert_eq!(
        ids(store, &q).await,
        [f.c4, f.c2],
        "bob's conversations, newest first"
    );
    q.agent = Some(f.ann);
    assert_eq!(ids(store, &q).await, [f.c1]);

    let mut q = SearchQuery::new(SearchScope::All);
    (q.from, q.to) = (Some(T + 2000), Some(T + 4000));
    assert_eq!(
        ids(store, &q).await,
        [f.c3, f.c2],
        "opened from T+2000, before T+4000"
    );
    q.text = Some("退货".into());
    assert_eq!(ids(store, &q).await, [f.c3], "and about 退货");
}

async fn an_agent_finds_its_groups_and_what_it_handled(store: &dyn Store, f: &Fixture) {
    let ann = SearchScope::Agent {
        agent_id: f.ann,
        groups: vec!["search-a".into()],
    };
    assert_eq!(
        sorted(ids(store, &query(ann.clone(), Some("退货"))).await),
        sorted(vec![f.c1, f.c3, f.c4]),
        "search-a's, not search-b's"
    );
    let bob = SearchScope::Agent {
        agent_id: f.bob,
        groups: vec!["search-b".into()],
    };
    assert_eq!(
        sorted(ids(store, &query(bob, Some("退货"))).await),
        sorted(vec![f.c4, f.c5, f.c6]),
        "search-b's, and c4 of search-a, which bob handled"
    );
    let nobody = SearchScope::Agent {
        agent_id: Uuid::now_v7(),
        groups: vec![],
    };
    assert_eq!(
        store
            .search(&query(nobody, Some("退货")))
            .await
            .unwrap()
            .total,
        0,
        "an agent in no group who handled nothing finds nothing"
    );
    assert_eq!(
        ids(store, &SearchQuery::new(ann)).await,
        [f.c4, f.c3, f.c1],
        "no criterion: everything in scope, newest first"
    );
}

async fn pages_split_the_results_and_keep_the_total(store: &dyn Store, f: &Fixture) {
    let mut q = query(both_groups(f.ann), Some("退货"));
    let all = ids(store, &q).await;
    q.limit = 2;
    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        q.offset = offset;
        let page = store.search(&q).await.unwrap();
        assert_eq!(page.total, 5, "offset {offset}: the total of every page");
        seen.extend(page.results.iter().map(|r| r.conversation_id));
    }
    assert_eq!(seen, all, "the pages, in order, are the whole list");
    q.offset = 10;
    let past = store.search(&q).await.unwrap();
    assert_eq!(
        (past.total, past.results.len()),
        (5, 0),
        "past the end: nothing, and still the total"
    );
}
