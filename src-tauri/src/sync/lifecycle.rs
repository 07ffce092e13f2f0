//! What a conversation's lifecycle event (queued, offered, assigned, transferred, closed,
//! reopened, offer withdrawn, labels updated) tells the cache about it; the engine stores it as it arrives.

use kefu_proto::v1 as pb;

use crate::{
    cache::ConversationInfo,
    model::{ConversationState, PageContext, Priority},
};

/// What a lifecycle event says about the conversation, for the cache.
pub(super) fn info(e: &pb::ConversationEvent) -> ConversationInfo {
    use pb::conversation_event::Kind;
    let mut c = ConversationInfo {
        id: e.conversation_id.clone(),
        updated_at: Some(e.at_ms),
        ..Default::default()
    };
    match &e.kind {
        Some(Kind::Queued(q)) => {
            c.state = Some(ConversationState::Queued);
            c.group = Some(q.group.clone());
            c.queue_position = Some(Some(q.position));
        }
        Some(Kind::Offered(o)) => {
            c.state = Some(ConversationState::Offered);
            c.offer_expires_at = Some(Some(o.expires_at_ms));
            if let Some(conv) = &o.conversation {
                c.group = Some(conv.group.clone());
                c.shopper_name = conv.shopper.as_ref().map(|p| p.display_name.clone());
                c.created_at = Some(conv.created_at_ms);
                c.page = conv.context.as_ref().map(page);
                c.tags = Some(conv.tags.clone());
                c.priority = Some(priority(conv.priority()));
            }
        }
        Some(Kind::Assigned(a)) => {
            c.state = Some(ConversationState::Assigned);
            c.agent_id = Some(a.agent.as_ref().map(|p| p.id.clone()));
            c.queue_position = Some(None);
            c.offer_expires_at = Some(None);
        }
        Some(Kind::Transferred(t)) if t.to_agent_id.is_empty() => {
            c.state = Some(ConversationState::Queued);
            c.group = Some(t.to_group.clone());
            c.agent_id = Some(None);
        }
        Some(Kind::Transferred(t)) => c.agent_id = Some(Some(t.to_agent_id.clone())),
        Some(Kind::Closed(_)) => {
            c.state = Some(ConversationState::Closed);
            c.closed_at = Some(Some(e.at_ms));
            c.queue_position = Some(None);
            c.offer_expires_at = Some(None);
        }
        Some(Kind::Reopened(r)) => {
            c.state = Some(ConversationState::Queued);
            c.group = Some(r.group.clone());
            c.agent_id = Some(None);
            c.closed_at = Some(None);
        }
        Some(Kind::OfferWithdrawn(_)) => {
            c.state = Some(ConversationState::Queued);
            c.offer_expires_at = Some(None);
        }
        Some(Kind::Updated(now)) => {
            c.tags = Some(now.tags.clone());
            c.priority = Some(priority(now.priority()));
        }
        Some(Kind::CustomerViewReady(_)) | None => {}
    }
    c
}

/// The page context as the protobuf carries it (empty strings when unknown).
fn page(p: &pb::PageContext) -> PageContext {
    let known = |s: &String| (!s.is_empty()).then(|| s.clone());
    PageContext {
        url: known(&p.url),
        title: known(&p.title),
        product_id: known(&p.product_id),
        order_id: known(&p.order_id),
    }
}

/// The protobuf's priority in the desk's terms (unspecified is normal).
fn priority(p: pb::Priority) -> Priority {
    match p {
        pb::Priority::Low => Priority::Low,
        pb::Priority::Unspecified => Priority::Normal,
        pb::Priority::High => Priority::High,
        pb::Priority::Urgent => Priority::Urgent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cache::Cache, model::View};

    fn offered(conversation: pb::Conversation) -> pb::ConversationEvent {
        pb::ConversationEvent {
            conversation_id: conversation.id.clone(),
            at_ms: 1_000,
            kind: Some(pb::conversation_event::Kind::Offered(pb::Offered {
                agent_id: "a1".into(),
                expires_at_ms: 31_000,
                conversation: Some(conversation),
            })),
        }
    }

    /// A fresh cache of agent `a1`, in a folder that lives as long as the first value.
    async fn cache() -> (tempfile::TempDir, Cache) {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache.db"), "a1")
            .await
            .unwrap();
        (dir, cache)
    }

    /// A later event of `id` (at 2 s).
    fn later(id: &str, kind: pb::conversation_event::Kind) -> pb::ConversationEvent {
        pb::ConversationEvent {
            conversation_id: id.into(),
            at_ms: 2_000,
            kind: Some(kind),
        }
    }

    #[tokio::test]
    async fn tags_and_priority_of_an_offer_round_trip_through_the_cache() {
        let (_dir, cache) = cache().await;
        let tags = vec!["escalated".to_string(), "keyword:投诉".to_string()];
        let event = offered(pb::Conversation {
            id: "c1".into(),
            tags: tags.clone(),
            priority: pb::Priority::Urgent as i32,
            ..Default::default()
        });
        cache.upsert(&info(&event)).await.unwrap();
        let row = cache.conversation("c1").await.unwrap().unwrap();
        assert_eq!(row.tags, tags, "tags keep their text and order");
        assert_eq!(
            row.priority,
            Priority::Urgent,
            "the offer's priority is stored"
        );

        // A later event that says nothing about tags (an assignment) keeps them.
        let assigned = later(
            "c1",
            pb::conversation_event::Kind::Assigned(pb::Assigned::default()),
        );
        cache.upsert(&info(&assigned)).await.unwrap();
        let row = cache.conversation("c1").await.unwrap().unwrap();
        assert_eq!(
            (row.tags, row.priority),
            (tags, Priority::Urgent),
            "events without a conversation leave tags and priority alone"
        );

        // The server's latest description replaces them whole: tags removed, priority unset.
        let event = offered(pb::Conversation {
            id: "c1".into(),
            ..Default::default()
        });
        cache.upsert(&info(&event)).await.unwrap();
        let row = cache.conversation("c1").await.unwrap().unwrap();
        assert!(
            row.tags.is_empty(),
            "tags the server dropped leave the cache"
        );
        assert_eq!(
            row.priority,
            Priority::Normal,
            "unspecified priority reads as normal"
        );
    }

    #[tokio::test]
    async fn a_labels_update_replaces_tags_and_priority_and_nothing_else() {
        let (_dir, cache) = cache().await;
        let event = offered(pb::Conversation {
            id: "c1".into(),
            group: "after-sales".into(),
            tags: vec!["vip".into()],
            ..Default::default()
        });
        cache.upsert(&info(&event)).await.unwrap();
        let updated = later(
            "c1",
            pb::conversation_event::Kind::Updated(pb::Conversation {
                id: "c1".into(),
                tags: vec!["vip".into(), "keyword:投诉".into()],
                priority: pb::Priority::Urgent as i32,
                ..Default::default()
            }),
        );
        cache.upsert(&info(&updated)).await.unwrap();
        let row = cache.conversation("c1").await.unwrap().unwrap();
        assert_eq!(row.tags, ["vip", "keyword:投诉"], "the new tags, in order");
        assert_eq!(row.priority, Priority::Urgent);
        assert_eq!(
            (row.state, row.group.as_str()),
            (ConversationState::Offered, "after-sales"),
            "state and group are not the labels' business"
        );
    }

    /// The review that found "mine" defined twice: an offer shown in Mine must still be
    /// there when the list is read again from the cache.
    #[tokio::test]
    async fn an_offer_is_in_the_same_views_live_and_after_a_reload() {
        let (_dir, cache) = cache().await;
        let event = offered(pb::Conversation {
            id: "c1".into(),
            ..Default::default()
        });
        cache.upsert(&info(&event)).await.unwrap();
        let live = cache.conversation("c1").await.unwrap().unwrap();
        assert_eq!(
            live.views,
            [View::Mine, View::Offered, View::Queue, View::Open]
        );
        for view in View::ALL {
            let listed = cache.list(view, None).await.unwrap();
            assert_eq!(
                listed.iter().any(|c| c.id == "c1"),
                live.views.contains(&view),
                "{view:?}: the list agrees with the row's views"
            );
        }
        let assigned = later(
            "c1",
            pb::conversation_event::Kind::Assigned(pb::Assigned {
                agent: Some(pb::Participant {
                    id: "someone-else".into(),
                    ..Default::default()
                }),
            }),
        );
        cache.upsert(&info(&assigned)).await.unwrap();
        let row = cache.conversation("c1").await.unwrap().unwrap();
        assert_eq!(row.views, [View::Open], "taken by another agent");
        assert!(cache.list(View::Mine, None).await.unwrap().is_empty());
    }

    /// The list is refreshed over REST after every connect, while offers arrive on the
    /// socket: a listing fetched before the offer must not turn it back into "queued".
    #[tokio::test]
    async fn a_listed_queued_row_keeps_a_live_offer_and_a_withdrawal_ends_it() {
        let (_dir, cache) = cache().await;
        let event = offered(pb::Conversation {
            id: "c1".into(),
            ..Default::default()
        });
        cache.upsert(&info(&event)).await.unwrap();
        let listed = ConversationInfo {
            id: "c1".into(),
            state: Some(ConversationState::Queued),
            group: Some("pre-sales".into()),
            listed: true,
            ..Default::default()
        };
        cache.upsert(&listed).await.unwrap();
        let row = cache.conversation("c1").await.unwrap().unwrap();
        assert_eq!(row.state, ConversationState::Offered, "the offer stands");
        assert_eq!(row.group, "pre-sales", "the rest of the listing is taken");

        let withdrawn = later(
            "c1",
            pb::conversation_event::Kind::OfferWithdrawn(pb::OfferWithdrawn::default()),
        );
        cache.upsert(&info(&withdrawn)).await.unwrap();
        let row = cache.conversation("c1").await.unwrap().unwrap();
        assert_eq!(row.state, ConversationState::Queued, "events decide offers");
    }

    #[tokio::test]
    async fn offers_of_an_earlier_connection_are_void() {
        let (_dir, cache) = cache().await;
        for id in ["offered", "assigned"] {
            let event = offered(pb::Conversation {
                id: id.into(),
                ..Default::default()
            });
            cache.upsert(&info(&event)).await.unwrap();
        }
        let assigned = later(
            "assigned",
            pb::conversation_event::Kind::Assigned(pb::Assigned::default()),
        );
        cache.upsert(&info(&assigned)).await.unwrap();

        cache.void_offers().await.unwrap();
        let row = cache.conversation("offered").await.unwrap().unwrap();
        assert_eq!(row.state, ConversationState::Queued);
        assert_eq!(row.offer_expires_at, None, "no countdown left");
        let row = cache.conversation("assigned").await.unwrap().unwrap();
        assert_eq!(row.state, ConversationState::Assigned, "only offers go");
    }

    #[tokio::test]
    async fn conversations_known_only_from_messages_have_no_tags_and_normal_priority() {
        let (_dir, cache) = cache().await;
        let m = pb::Message {
            conversation_id: "c2".into(),
            seq: 1,
            id: "m1".into(),
            ..Default::default()
        };
        cache.store_message(&m, false).await.unwrap();
        let row = cache.conversation("c2").await.unwrap().unwrap();
        assert!(row.tags.is_empty(), "the column's default is an empty list");
        assert_eq!(
            row.priority,
            Priority::Normal,
            "the column's default is normal"
        );
    }

    #[test]
    fn every_protobuf_priority_maps_to_its_level() {
        let all = [
            (pb::Priority::Unspecified, Priority::Normal),
            (pb::Priority::Low, Priority::Low),
            (pb::Priority::High, Priority::High),
            (pb::Priority::Urgent, Priority::Urgent),
        ];
        for (wire, desk) in all {
            assert_eq!(priority(wire), desk, "{wire:?}");
        }
    }
}
