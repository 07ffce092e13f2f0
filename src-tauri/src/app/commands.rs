//! Tauri commands: thin wrappers over [`Desk`], one per thing the window can ask.
//! Each returns `Result<T, DeskError>`, so the UI gets `{code, message}` on failure.

use std::sync::Arc;

use tauri::{AppHandle, Manager, State};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_dialog::DialogExt as _;

use super::{LaunchLink, updates};
use crate::{
    desk::{Desk, safe_file_name},
    model::{
        ActionDone, Agent, AgentStatus, AvailableUpdate, CannedReply, ChatMessage,
        ConversationSummary, CustomerPanel, DeskError, DeskErrorCode, HistoryPage, OrderAction,
        Session, Settings, TransferTarget, TransferTargets, View,
    },
};

type Desk_<'a> = State<'a, Arc<Desk>>;
type Res<T> = Result<T, DeskError>;

/// Who is signed in (restored from the OS keyring at start), and where.
#[tauri::command]
#[specta::specta]
pub async fn session(desk: Desk_<'_>) -> Res<Session> {
    desk.session().await
}

#[tauri::command]
#[specta::specta]
pub async fn sign_in(
    desk: Desk_<'_>,
    server_url: String,
    username: String,
    password: String,
) -> Res<Agent> {
    desk.sign_in(&server_url, &username, &password).await
}

#[tauri::command]
#[specta::specta]
pub async fn sign_out(desk: Desk_<'_>) -> Res<()> {
    desk.sign_out().await
}

/// A view of the list from the cache; `query` searches shopper names and cached messages.
#[tauri::command]
#[specta::specta]
pub async fn conversations(
    desk: Desk_<'_>,
    view: View,
    query: Option<String>,
) -> Res<Vec<ConversationSummary>> {
    desk.conversations(view, query).await
}

/// A page of messages before `before_seq` (`null`: the newest, then the unsent ones).
#[tauri::command]
#[specta::specta]
pub async fn history(
    desk: Desk_<'_>,
    conversation_id: String,
    before_seq: Option<u64>,
) -> Res<HistoryPage> {
    desk.history(&conversation_id, before_seq).await
}

#[tauri::command]
#[specta::specta]
pub async fn send_text(
    desk: Desk_<'_>,
    conversation_id: String,
    text: String,
    note: bool,
) -> Res<ChatMessage> {
    desk.send_text(&conversation_id, &text, note).await
}

/// `data_base64`: the file's bytes, base64.
#[tauri::command]
#[specta::specta]
pub async fn send_file(
    desk: Desk_<'_>,
    conversation_id: String,
    file_name: String,
    mime: String,
    data_base64: String,
) -> Res<ChatMessage> {
    desk.send_file(&conversation_id, &file_name, &mime, &data_base64)
        .await
}

/// An attachment as a `data:` URL.
#[tauri::command]
#[specta::specta]
pub async fn attachment(desk: Desk_<'_>, attachment_id: String) -> Res<String> {
    desk.attachment(&attachment_id).await
}

#[tauri::command]
#[specta::specta]
pub async fn accept(desk: Desk_<'_>, conversation_id: String) -> Res<()> {
    desk.accept(&conversation_id).await
}

#[tauri::command]
#[specta::specta]
pub async fn decline(desk: Desk_<'_>, conversation_id: String) -> Res<()> {
    desk.decline(&conversation_id).await
}

#[tauri::command]
#[specta::specta]
pub async fn transfer(
    desk: Desk_<'_>,
    conversation_id: String,
    target: TransferTarget,
    note: String,
) -> Res<()> {
    desk.transfer(&conversation_id, target, &note).await
}

#[tauri::command]
#[specta::specta]
pub async fn close(desk: Desk_<'_>, conversation_id: String) -> Res<()> {
    desk.close(&conversation_id).await
}

#[tauri::command]
#[specta::specta]
pub async fn typing(desk: Desk_<'_>, conversation_id: String, typing: bool) -> Res<()> {
    desk.typing(&conversation_id, typing).await
}

#[tauri::command]
#[specta::specta]
pub async fn mark_read(desk: Desk_<'_>, conversation_id: String, seq: u64) -> Res<()> {
    desk.mark_read(&conversation_id, seq).await
}

#[tauri::command]
#[specta::specta]
pub async fn set_status(desk: Desk_<'_>, status: AgentStatus) -> Res<()> {
    desk.set_status(status).await
}

#[tauri::command]
#[specta::specta]
pub async fn canned_replies(desk: Desk_<'_>) -> Res<Vec<CannedReply>> {
    desk.canned_replies().await
}

#[tauri::command]
#[specta::specta]
pub async fn transfer_targets(desk: Desk_<'_>) -> Res<TransferTargets> {
    desk.transfer_targets().await
}

/// The customer panel: fresh when the server answers, else the cached copy.
#[tauri::command]
#[specta::specta]
pub async fn customer_view(
    desk: Desk_<'_>,
    conversation_id: String,
    refresh: bool,
) -> Res<Option<CustomerPanel>> {
    desk.customer_view(&conversation_id, refresh).await
}

/// Verifies an unverified shopper with an order number they quoted.
#[tauri::command]
#[specta::specta]
pub async fn verify_customer(
    desk: Desk_<'_>,
    conversation_id: String,
    order_id: String,
) -> Res<CustomerPanel> {
    desk.verify_customer(&conversation_id, &order_id).await
}

#[tauri::command]
#[specta::specta]
pub async fn order_action(
    desk: Desk_<'_>,
    conversation_id: String,
    action: OrderAction,
) -> Res<ActionDone> {
    desk.order_action(&conversation_id, action).await
}

/// The settings; "start at login" as the OS has it (the agent may have changed it there).
#[tauri::command]
#[specta::specta]
pub async fn settings(app: AppHandle, desk: Desk_<'_>) -> Res<Settings> {
    let mut settings = desk.settings();
    settings.start_at_login = app.autolaunch().is_enabled().unwrap_or(false);
    Ok(settings)
}

#[tauri::command]
#[specta::specta]
pub async fn save_settings(app: AppHandle, desk: Desk_<'_>, settings: Settings) -> Res<()> {
    let autostart = app.autolaunch();
    if autostart.is_enabled().unwrap_or(false) != settings.start_at_login {
        let changed = if settings.start_at_login {
            autostart.enable()
        } else {
            autostart.disable()
        };
        changed.map_err(|e| {
            DeskError::new(
                DeskErrorCode::Internal,
                format!("changing start at login: {e}"),
            )
        })?;
    }
    desk.save_settings(settings).await
}

/// The conversation on screen (`null`: none, or the window is in the background).
#[tauri::command]
#[specta::specta]
pub async fn focus(desk: Desk_<'_>, conversation_id: Option<String>) -> Res<()> {
    desk.focus(conversation_id).await
}

/// Saves an attachment where the agent picks in the OS save dialog (the window never names
/// a path); `null` when the agent cancels, else where it was saved.
#[tauri::command]
#[specta::specta]
pub async fn save_attachment(
    app: AppHandle,
    desk: Desk_<'_>,
    attachment_id: String,
    file_name: String,
) -> Res<Option<String>> {
    let Some(path) = save_dialog(&app, &file_name).await? else {
        return Ok(None);
    };
    desk.save_attachment(&attachment_id, &path).await?;
    Ok(Some(path.display().to_string()))
}

/// Asks where to save a file (the OS save dialog, `file_name` suggested); `None` when the
/// agent cancels.
pub(super) async fn save_dialog(
    app: &AppHandle,
    file_name: &str,
) -> Res<Option<std::path::PathBuf>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_file_name(safe_file_name(file_name))
        .save_file(move |path| {
            let _ = tx.send(path);
        });
    let Some(path) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    path.into_path()
        .map(Some)
        .map_err(|e| DeskError::new(DeskErrorCode::Invalid, format!("save location: {e}")))
}

/// The conversation the `kefu://` link that started the app names, once.
#[tauri::command]
#[specta::specta]
pub async fn opened_with(app: AppHandle) -> Res<Option<String>> {
    Ok(app
        .state::<LaunchLink>()
        .0
        .lock()
        .expect("launch link lock")
        .take())
}

/// Asks the server signed in to for a newer signed build.
#[tauri::command]
#[specta::specta]
pub async fn check_update(app: AppHandle, desk: Desk_<'_>) -> Res<Option<AvailableUpdate>> {
    let (server, token) = desk.server_credentials().await?;
    let update = updates::check(&app, &server, &token).await?;
    Ok(update.as_ref().map(updates::available))
}

/// Downloads the newer build, installs it only if its signature verifies, and restarts.
#[tauri::command]
#[specta::specta]
pub async fn install_update(app: AppHandle, desk: Desk_<'_>) -> Res<()> {
    let (server, token) = desk.server_credentials().await?;
    let Some(mut update) = updates::check(&app, &server, &token).await? else {
        return Err(DeskError::new(
            DeskErrorCode::NotFound,
            "no newer build is offered any more",
        ));
    };
    let bytes = updates::download(&mut update, &server).await?;
    update.install(bytes).map_err(|e| {
        DeskError::new(
            DeskErrorCode::Internal,
            format!("installing the update: {e}"),
        )
    })?;
    app.restart()
}
