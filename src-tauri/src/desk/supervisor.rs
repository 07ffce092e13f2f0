//! What a supervisor does from the desk: watch the live floor, act on any conversation
//! (reassign, whisper, take over, close) or agent (set their status), read reports, and
//! search every conversation. The server checks the role on each call and audits it; the
//! desk keeps only the latest floor, so a window that opens late shows it at once.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use super::{Desk, convert, ops::write_file};
use crate::{
    client::{ClientError, RemoteMessage},
    model::{
        ChatMessage, ConversationSummary, DeliveryState, DeskError, DeskErrorCode, Floor,
        MessageBody, Presence, ReportFilter, ReportSummary, ReportTable, SearchPage, SearchQuery,
        Sender, Update, View,
    },
};

/// Longest whisper (the server enforces its own limit too).
const MAX_WHISPER_CHARS: usize = 4000;
/// Longest span a report covers (the server's limit).
const MAX_REPORT_DAYS: i64 = 400;
/// Results per search page when the window does not say.
const SEARCH_PAGE: u32 = 20;
/// How often a whisper is tried before the agent is told (the same id every time).
const WHISPER_ATTEMPTS: u32 = 3;

/// What a signed-in session keeps for supervision.
#[derive(Default)]
pub(super) struct Watch {
    /// The newest floor received (pushed, or fetched when none was).
    floor: Mutex<Option<Floor>>,
    /// Whispers not yet confirmed, by (conversation, text): a retry after a lost answer
    /// reuses the id, and the server answers with the note it stored the first time.
    whispers: Mutex<HashMap<(String, String), String>>,
}

impl Watch {
    /// Keeps `floor` unless a newer one is already kept; whether it was kept.
    pub(super) fn keep(&self, floor: &Floor) -> bool {
        let mut kept = self.floor.lock().expect("floor lock");
        if kept.as_ref().is_some_and(|k| k.at_ms > floor.at_ms) {
            return false;
        }
        *kept = Some(floor.clone());
        true
    }

    fn whisper_id(&self, conversation_id: &str, text: &str) -> String {
        let mut ids = self.whispers.lock().expect("whispers lock");
        ids.entry((conversation_id.into(), text.into()))
            .or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone()
    }

    fn whisper_settled(&self, conversation_id: &str, text: &str) {
        let mut ids = self.whispers.lock().expect("whispers lock");
        ids.remove(&(conversation_id.to_string(), text.to_string()));
    }
}

fn invalid(message: impl Into<String>) -> DeskError {
    DeskError::new(DeskErrorCode::Invalid, message)
}

/// A field left blank is no value.
fn given(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Worth trying again with the same id: no answer, or the server failed rather than refused.
fn transient(e: &ClientError) -> bool {
    matches!(e, ClientError::Unreachable(_) | ClientError::Server(_))
}

/// The whisper as the chat pane shows a note.
fn whispered(m: RemoteMessage) -> ChatMessage {
    let text = m.body["text"].as_str().unwrap_or_default().to_string();
    ChatMessage {
        id: Some(m.id),
        client_msg_id: m.client_msg_id,
        conversation_id: m.conversation_id,
        seq: Some(m.seq),
        sender: Sender::Agent,
        sender_name: m.sender_name,
        mine: true,
        body: MessageBody::Note { text },
        created_at: m.created_at,
        delivery: DeliveryState::Sent,
    }
}

impl Desk {
    /// A floor frame from the server: kept, and passed to the window.
    pub(super) fn floor_pushed(&self, watch: &Watch, floor: Floor) {
        if watch.keep(&floor) {
            self.emit(Update::Floor { floor });
        }
    }

    /// The floor: the latest pushed, else asked of the server (an agent's desk is refused).
    pub async fn floor(&self) -> Result<Floor, DeskError> {
        let a = self.active().await?;
        if let Some(floor) = a.watch.floor.lock().expect("floor lock").clone() {
            return Ok(floor);
        }
        let floor = a.server.floor().await?;
        a.watch.keep(&floor);
        Ok(floor)
    }

    /// Every open conversation, for the floor: the server's list brought into the cache (so
    /// live events keep the rows current), then the cache's open view.
    pub async fn floor_conversations(&self) -> Result<Vec<ConversationSummary>, DeskError> {
        let a = self.active().await?;
        for c in a.server.conversations("open").await? {
            a.cache.upsert(&convert::remote(&c)).await?;
        }
        Ok(a.cache.list(View::Open, None).await?)
    }

    /// Gives a conversation to another agent or to a group's queue.
    pub async fn reassign(
        &self,
        conversation_id: &str,
        agent_id: Option<String>,
        group: Option<String>,
        note: Option<String>,
    ) -> Result<(), DeskError> {
        let (agent_id, group, note) = (given(agent_id), given(group), given(note));
        if agent_id.is_none() && group.is_none() {
            return Err(invalid("choose an agent or a group to reassign to"));
        }
        let a = self.active().await?;
        a.server
            .reassign(
                conversation_id,
                agent_id.as_deref(),
                group.as_deref(),
                note.as_deref(),
            )
            .await?;
        Ok(())
    }

    /// Whispers to the conversation's agent: a private note the shopper never sees. A failed
    /// attempt is retried with the same `client_msg_id` (now, and when the supervisor sends
    /// the same text again), so it is stored once however often it is tried.
    pub async fn whisper(
        &self,
        conversation_id: &str,
        text: &str,
    ) -> Result<ChatMessage, DeskError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("write something to whisper"));
        }
        if text.chars().count() > MAX_WHISPER_CHARS {
            return Err(invalid(format!(
                "whispers may be at most {MAX_WHISPER_CHARS} characters"
            )));
        }
        let a = self.active().await?;
        let client_msg_id = a.watch.whisper_id(conversation_id, text);
        let mut attempt = 1;
        loop {
            match a
                .server
                .whisper(conversation_id, text, &client_msg_id)
                .await
            {
                Ok(m) => {
                    a.watch.whisper_settled(conversation_id, text);
                    return Ok(whispered(m));
                }
                Err(e) if transient(&e) && attempt < WHISPER_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(300 * u64::from(attempt))).await;
                    attempt += 1;
                }
                Err(e) => {
                    // Refused: it was not stored, and a corrected retry is a new whisper.
                    if !transient(&e) {
                        a.watch.whisper_settled(conversation_id, text);
                    }
                    return Err(e.into());
                }
            }
        }
    }

    /// Assigns the conversation to the supervisor signed in.
    pub async fn take_over(&self, conversation_id: &str) -> Result<(), DeskError> {
        let a = self.active().await?;
        // The assignment comes back as an event, like any chat that becomes ours.
        Ok(a.server.take_over(conversation_id).await?)
    }

    /// Closes any conversation the server lets this account close, with its answer (the
    /// chat pane's close goes over the socket; the floor wants to know it worked).
    pub async fn close_conversation(&self, conversation_id: &str) -> Result<(), DeskError> {
        let a = self.active().await?;
        Ok(a.server.close(conversation_id).await?)
    }

    /// Sets another agent's status.
    pub async fn set_agent_status(
        &self,
        agent_id: &str,
        status: Presence,
    ) -> Result<(), DeskError> {
        let a = self.active().await?;
        Ok(a.server.set_agent_status(agent_id, status).await?)
    }

    pub async fn report_summary(&self, filter: &ReportFilter) -> Result<ReportSummary, DeskError> {
        check_range(filter)?;
        let a = self.active().await?;
        Ok(a.server.report_summary(filter).await?)
    }

    /// Saves one table of a report as CSV at `path` (picked in the save dialog).
    pub async fn save_report_csv(
        &self,
        table: ReportTable,
        filter: &ReportFilter,
        path: &std::path::Path,
    ) -> Result<(), DeskError> {
        check_range(filter)?;
        let a = self.active().await?;
        let csv = a.server.report_csv(table, filter).await?;
        write_file(path, &csv).await
    }

    pub async fn search(&self, mut query: SearchQuery) -> Result<SearchPage, DeskError> {
        if query.limit == 0 {
            query.limit = SEARCH_PAGE;
        }
        query.limit = query.limit.min(50);
        let a = self.active().await?;
        Ok(a.server.search(&query).await?)
    }

    /// Brings a conversation found by search (which the cache may never have held) into
    /// the cache, so the desk's list and chat pane can open it; its messages follow when
    /// the pane asks for them.
    pub async fn load_conversation(
        &self,
        conversation_id: &str,
        shopper_name: Option<String>,
    ) -> Result<ConversationSummary, DeskError> {
        let a = self.active().await?;
        let remote = a.server.conversation(conversation_id).await?;
        let mut info = convert::remote(&remote);
        info.shopper_name = given(shopper_name);
        a.cache.upsert(&info).await?;
        let row = a
            .cache
            .conversation(conversation_id)
            .await?
            .ok_or_else(|| {
                DeskError::new(DeskErrorCode::Internal, "the conversation was not cached")
            })?;
        self.emit(Update::Conversation {
            conversation: row.clone(),
        });
        Ok(row)
    }
}

fn check_range(filter: &ReportFilter) -> Result<(), DeskError> {
    if filter.from >= filter.to {
        return Err(invalid("the report's start must be before its end"));
    }
    if filter.to - filter.from > MAX_REPORT_DAYS * 86_400_000 {
        return Err(invalid(format!(
            "a report covers at most {MAX_REPORT_DAYS} days"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floor(at_ms: i64) -> Floor {
        Floor {
            at_ms,
            agents: vec![],
            queues: vec![],
            breaches: vec![],
        }
    }

    #[test]
    fn an_older_floor_never_replaces_a_newer_one() {
        let watch = Watch::default();
        assert!(watch.keep(&floor(2)));
        assert!(
            !watch.keep(&floor(1)),
            "a fetched floor older than a pushed one"
        );
        assert!(watch.keep(&floor(3)));
        assert_eq!(
            watch.floor.lock().unwrap().as_ref().map(|f| f.at_ms),
            Some(3)
        );
    }

    #[test]
    fn a_whisper_keeps_its_id_until_it_is_settled() {
        let watch = Watch::default();
        let first = watch.whisper_id("c1", "look at the refund");
        assert_eq!(
            watch.whisper_id("c1", "look at the refund"),
            first,
            "a retry"
        );
        assert_ne!(
            watch.whisper_id("c2", "look at the refund"),
            first,
            "another chat"
        );
        watch.whisper_settled("c1", "look at the refund");
        assert_ne!(
            watch.whisper_id("c1", "look at the refund"),
            first,
            "a new whisper"
        );
    }

    #[test]
    fn a_report_range_must_run_forwards_and_not_too_far() {
        let range = |from, to| ReportFilter {
            from,
            to,
            ..Default::default()
        };
        assert!(check_range(&range(1, 2)).is_ok());
        assert_eq!(
            check_range(&range(2, 2)).unwrap_err().code,
            DeskErrorCode::Invalid
        );
        assert!(check_range(&range(0, 400 * 86_400_000)).is_ok());
        assert!(check_range(&range(0, 401 * 86_400_000)).is_err());
    }
}
