//! Tauri commands for supervisors (the floor and its actions, reports) and for everyone's
//! search: thin wrappers over [`Desk`]. The server checks each account's role.

use std::sync::Arc;

use tauri::{AppHandle, State};

use super::commands::save_dialog;
use crate::{
    desk::Desk,
    model::{
        ChatMessage, ConversationSummary, DeskError, Floor, Presence, ReportFilter, ReportSummary,
        ReportTable, SearchPage, SearchQuery,
    },
};

type Desk_<'a> = State<'a, Arc<Desk>>;
type Res<T> = Result<T, DeskError>;

/// The live floor now (later ones arrive as `floor` events).
#[tauri::command]
#[specta::specta]
pub async fn floor(desk: Desk_<'_>) -> Res<Floor> {
    desk.floor().await
}

/// Every open conversation, for the floor's list (kept current by `conversation` events).
#[tauri::command]
#[specta::specta]
pub async fn floor_conversations(desk: Desk_<'_>) -> Res<Vec<ConversationSummary>> {
    desk.floor_conversations().await
}

/// Gives a conversation to an agent (`agent_id`) or a group's queue (`group`).
#[tauri::command]
#[specta::specta]
pub async fn reassign(
    desk: Desk_<'_>,
    conversation_id: String,
    agent_id: Option<String>,
    group: Option<String>,
    note: Option<String>,
) -> Res<()> {
    desk.reassign(&conversation_id, agent_id, group, note).await
}

/// A private note to the conversation's agent; never shown to the shopper.
#[tauri::command]
#[specta::specta]
pub async fn whisper(desk: Desk_<'_>, conversation_id: String, text: String) -> Res<ChatMessage> {
    desk.whisper(&conversation_id, &text).await
}

/// Assigns the conversation to the supervisor signed in.
#[tauri::command]
#[specta::specta]
pub async fn take_over(desk: Desk_<'_>, conversation_id: String) -> Res<()> {
    desk.take_over(&conversation_id).await
}

/// Closes any conversation this account may close, and says whether it worked.
#[tauri::command]
#[specta::specta]
pub async fn close_conversation(desk: Desk_<'_>, conversation_id: String) -> Res<()> {
    desk.close_conversation(&conversation_id).await
}

#[tauri::command]
#[specta::specta]
pub async fn set_agent_status(desk: Desk_<'_>, agent_id: String, status: Presence) -> Res<()> {
    desk.set_agent_status(&agent_id, status).await
}

#[tauri::command]
#[specta::specta]
pub async fn report_summary(desk: Desk_<'_>, filter: ReportFilter) -> Res<ReportSummary> {
    desk.report_summary(&filter).await
}

/// Saves one table of the report as CSV where the supervisor picks in the save dialog;
/// `null` when they cancel, else where it was saved.
#[tauri::command]
#[specta::specta]
pub async fn report_csv(
    app: AppHandle,
    desk: Desk_<'_>,
    table: ReportTable,
    filter: ReportFilter,
    file_name: String,
) -> Res<Option<String>> {
    let Some(path) = save_dialog(&app, &file_name).await? else {
        return Ok(None);
    };
    desk.save_report_csv(table, &filter, &path).await?;
    Ok(Some(path.display().to_string()))
}

/// A page of conversations matching `query`, best first (what this account may see).
#[tauri::command]
#[specta::specta]
pub async fn search(desk: Desk_<'_>, query: SearchQuery) -> Res<SearchPage> {
    desk.search(query).await
}

/// Brings a found conversation into the desk's cache so it can be opened.
#[tauri::command]
#[specta::specta]
pub async fn load_conversation(
    desk: Desk_<'_>,
    conversation_id: String,
    shopper_name: Option<String>,
) -> Res<ConversationSummary> {
    desk.load_conversation(&conversation_id, shopper_name).await
}
