//! One error type for every REST handler: JSON `{code, message}` with the right status.

use std::time::Duration;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use kefu_proto::v1 as pb;
use serde::Serialize;

use crate::{sessions::OpError, store::StoreError};

/// A REST failure. 5xx details are logged, and clients only see the code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or a value is out of range.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no credentials, or expired/revoked ones.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 403 `customer_unverified`: the shopper's identity is only typed, not verified, so
    /// nothing may be done in the back office for them.
    #[error("{0}")]
    CustomerUnverified(String),
    /// 404: no such thing (or not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with current state (duplicate name, already assigned).
    #[error("{0}")]
    Conflict(String),
    /// 409 `conversation_closed`: the conversation is closed (reopen it by writing).
    #[error("{0}")]
    ConversationClosed(String),
    /// 413: the body exceeds a configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// 415: the content type is not accepted.
    #[error("{0}")]
    UnsupportedType(String),
    /// 422: the request was understood but the retailer's back office refused it.
    #[error("{0}")]
    Unprocessable(String),
    /// 422 `verification_failed`: the evidence does not prove the shopper is the customer.
    #[error("{0}")]
    VerificationFailed(String),
    /// 502: the retailer's back office failed or answered badly.
    #[error("{0}")]
    BadGateway(String),
    /// 429: too many attempts; retry later (`Retry-After` says when, if known).
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Option<Duration>,
    },
    /// 500: the server failed; detail is logged only.
    #[error("internal error")]
    Internal(String),
}

/// The body of every REST error: what went wrong, for programs (`code`) and people
/// (`message`). Named `Error` in the OpenAPI description.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Stable, for programs to branch on: `invalid_argument`, `unauthenticated`,
    /// `forbidden`, `not_found`, `conflict`, `too_large`, `unsupported_type`,
    /// `refused_by_backoffice`, `backoffice_failed`, `rate_limited`, `internal`.
    pub code: &'static str,
    /// For people: what was wrong and what to do.
    pub message: String,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_argument"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::CustomerUnverified(_) => (StatusCode::FORBIDDEN, "customer_unverified"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::ConversationClosed(_) => (StatusCode::CONFLICT, "conversation_closed"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::UnsupportedType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type")
            }
            ApiError::Unprocessable(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "refused_by_backoffice")
            }
            ApiError::VerificationFailed(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "verification_failed")
            }
            ApiError::BadGateway(_) => (StatusCode::BAD_GATEWAY, "backoffice_failed"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                "internal error; it has been logged".to_string()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(ErrorBody { code, message })).into_response();
        if let ApiError::RateLimited {
            retry_after: Some(wait),
            ..
        } = self
        {
            // Whole seconds, rounded up: retrying at the stated time must succeed.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("not found".into()),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        use pb::ErrorCode as C;
        match e.code {
            C::InvalidArgument | C::MalformedFrame | C::UnknownType => {
                ApiError::BadRequest(e.message)
            }
            C::TooLarge => ApiError::TooLarge(e.message),
            C::Forbidden => ApiError::Forbidden(e.message),
            C::NotFound => ApiError::NotFound(e.message),
            C::Conflict => ApiError::Conflict(e.message),
            C::Unauthenticated => ApiError::Unauthenticated(e.message),
            C::RateLimited => ApiError::RateLimited {
                message: e.message,
                retry_after: e.retry_after,
            },
            C::Internal | C::Unspecified => ApiError::Internal(e.message),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(format!("{e:#}"))
    }
}

/// Result of REST handlers.
pub type ApiResult<T> = Result<T, ApiError>;
