//! File uploads and downloads.
//!
//! `POST /conversations/{id}/attachments?filename=x.png` with the raw bytes as the body and
//! the file's `Content-Type`. The type must be on the allow-list and match the file's magic
//! bytes; the size is capped while streaming to disk. Downloads go only to the
//! conversation's participants, with `nosniff`, a sandboxing CSP and a `Content-Disposition`.
//! Shoppers have a quota of files and bytes per window (`[limits.visitor]`); nobody uploads
//! into a closed conversation (409 `conversation_closed`).

use axum::{
    body::Body,
    extract::{DefaultBodyLimit, Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    AppState,
    auth::AnyAuth,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Json, Path, Query},
    openapi::{CallerErrors, ParamErrors},
};
use crate::{
    sessions::Caller,
    store::{Attachment, ConvState, now_ms},
};

pub fn router(max_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(download))
        // Our own streaming check enforces the real limit with a clear error.
        .layer(DefaultBodyLimit::max(max_bytes + 1))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name as the uploader knows it (kept without paths or control characters).
    pub filename: String,
}

#[derive(Serialize, ToSchema)]
pub struct Uploaded {
    pub attachment_id: Uuid,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
}

/// Keeps a file name displayable and harmless in a header: no paths, no control characters.
pub fn sanitize_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(120)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "file".into()
    } else {
        clean
    }
}

/// Whether the first bytes fit the declared type, so a page cannot be smuggled in as an image.
fn magic_matches(content_type: &str, head: &[u8]) -> bool {
    match content_type {
        "image/png" => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => head.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
        "image/webp" => head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP",
        "application/pdf" => head.starts_with(b"%PDF-"),
        // UTF-8 without NULs; a character cut off by the 16-byte window is fine.
        "text/plain" => {
            !head.contains(&0)
                && std::str::from_utf8(head).map_or_else(|e| e.error_len().is_none(), |_| true)
        }
        _ => true,
    }
}

/// Uploads a file into a conversation: the raw bytes as the body, with the file's
/// `Content-Type` (one of `attachments.allowed_types`, which the served description lists
/// as this body's media types) matching its contents; at most `attachments.max_bytes`.
#[utoipa::path(post, path = "/conversations/{id}/attachments", tag = "attachments",
    params(("id" = Uuid, Path, description = "The conversation's id"), UploadQuery),
    request_body(content = String, content_type = "application/octet-stream",
        description = "The file's bytes"),
    responses(
        (status = 201, description = "Stored", body = Uploaded),
        CallerErrors, ParamErrors,
        (status = 404, description = "No such conversation, or not the caller's", body = ErrorBody),
        (status = 409, description = "The conversation is closed", body = ErrorBody),
        (status = 413, description = "The file is larger than `attachments.max_bytes`", body = ErrorBody),
        (status = 415, description = "No Content-Type, a type not allowed, or contents that are not of that type", body = ErrorBody),
        (status = 429, description = "Upload quota reached: wait", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn upload(
    State(state): State<AppState>,
    AnyAuth(caller): AnyAuth,
    Path(conv): Path<Uuid>,
    Query(q): Query<UploadQuery>,
    request: Request,
) -> ApiResult<(StatusCode, Json<Uploaded>)> {
    if state.sessions.authorize(&caller, conv, true).await?.state == ConvState::Closed {
        return Err(ApiError::ConversationClosed(
            "the conversation is closed; files can only be added to an open one".into(),
        ));
    }
    state.sessions.may_attach(&caller, conv).await?;
    let shopper = match &caller {
        Caller::Shopper(v) => Some(v.id),
        Caller::Agent(_) => None,
    };
    if let Some(visitor) = shopper {
        state.limits.upload(visitor)?;
    }
    let cfg = &state.settings.attachments;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .map(|m| m.essence_str().to_string())
        .ok_or_else(|| ApiError::UnsupportedType("send the file's Content-Type".into()))?;
    if !cfg.allowed_types.contains(&content_type) {
        return Err(ApiError::UnsupportedType(format!(
            "{content_type} is not accepted; allowed: {}",
            cfg.allowed_types.join(", ")
        )));
    }
    if let Some(len) = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        && len > cfg.max_bytes
    {
        return Err(ApiError::TooLarge(format!(
            "files may be at most {} bytes",
            cfg.max_bytes
        )));
    }

    let dir = state.settings.attachment_dir();
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::Internal(format!("creating {}: {e}", dir.display())))?;
    let id = Uuid::now_v7();
    let tmp = dir.join(format!("{id}.part"));
    let result = stream_to_file(request.into_body(), &tmp, cfg.max_bytes).await;
    let (size, sha, head) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
    };
    if let Some(visitor) = shopper
        && let Err(e) = state.limits.upload_bytes(visitor, size)
    {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e.into());
    }
    if size == 0 || !magic_matches(&content_type, &head) {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(ApiError::UnsupportedType(format!(
            "the file's contents are not {content_type}"
        )));
    }
    tokio::fs::rename(&tmp, dir.join(id.to_string()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let uploader = match &caller {
        Caller::Shopper(v) => v.id,
        Caller::Agent(a) => a.id,
    };
    let a = Attachment {
        id,
        conversation_id: conv,
        uploader_id: uploader,
        file_name: sanitize_file_name(&q.filename),
        content_type,
        size_bytes: size as i64,
        sha256: sha,
        created_at: now_ms(),
    };
    state.sessions.add_attachment(&a).await?;
    Ok((
        StatusCode::CREATED,
        Json(Uploaded {
            attachment_id: a.id,
            file_name: a.file_name,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
        }),
    ))
}

/// Streams a body to `path`, refusing more than `max` bytes. Returns size, SHA-256 and the
/// first bytes (for the magic check).
async fn stream_to_file(
    body: Body,
    path: &std::path::Path,
    max: usize,
) -> Result<(usize, String, Vec<u8>), ApiError> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut stream = body.into_data_stream();
    let (mut size, mut hasher, mut head) = (0usize, Sha256::new(), Vec::with_capacity(16));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            if e.to_string().contains("length limit") {
                ApiError::TooLarge(format!("files may be at most {max} bytes"))
            } else {
                ApiError::BadRequest(format!("upload interrupted: {e}"))
            }
        })?;
        size += chunk.len();
        if size > max {
            return Err(ApiError::TooLarge(format!(
                "files may be at most {max} bytes"
            )));
        }
        if head.len() < 16 {
            head.extend(chunk.iter().take(16 - head.len()));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    file.sync_all()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((size, hex::encode(hasher.finalize()), head))
}

/// Downloads a file (the conversation's participants), as its own type with `nosniff`, a
/// sandboxing CSP and a `Content-Disposition`.
#[utoipa::path(get, path = "/attachments/{id}", tag = "attachments",
    params(("id" = Uuid, Path, description = "The attachment's id")),
    responses(
        (status = 200, description = "The file's bytes, with the type it was uploaded as",
            content_type = "application/octet-stream", body = String),
        CallerErrors, ParamErrors,
        (status = 404, description = "No such attachment, or not the caller's", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn download(
    State(state): State<AppState>,
    AnyAuth(caller): AnyAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let a = state.sessions.attachment(&caller, id).await?;
    let bytes = tokio::fs::read(state.settings.attachment_dir().join(id.to_string()))
        .await
        .map_err(|e| ApiError::Internal(format!("reading attachment {id}: {e}")))?;
    let inline = a.content_type.starts_with("image/");
    let encoded = crate::util::percent_encode(&a.file_name);
    let disposition = format!(
        "{}; filename=\"{}\"; filename*=UTF-8''{encoded}",
        if inline { "inline" } else { "attachment" },
        a.file_name
            .chars()
            .map(|c| if c.is_ascii() { c } else { '_' })
            .collect::<String>()
    );
    Ok((
        [
            (header::CONTENT_TYPE, a.content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".into(),
            ),
            (header::CACHE_CONTROL, "private, max-age=3600".into()),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("C:\\x\\发票.pdf"), "发票.pdf");
        assert_eq!(sanitize_file_name("a\r\nb\".png"), "ab.png");
        assert_eq!(sanitize_file_name(".."), "file");
    }

    #[test]
    fn magic_bytes_must_match_the_declared_type() {
        assert!(magic_matches("image/png", b"\x89PNG\r\n\x1a\n...."));
        assert!(!magic_matches("image/png", b"<html><script>"));
        assert!(!magic_matches("application/pdf", b"<svg"));
        assert!(magic_matches("text/plain", "订单号 12345".as_bytes()));
        assert!(
            magic_matches("text/plain", &"订单".as_bytes()[..4]),
            "a cut character is fine"
        );
        assert!(
            !magic_matches("text/plain", b"\x89PNG\r\n\x1a\n\0\0"),
            "binary is not text"
        );
    }
}
