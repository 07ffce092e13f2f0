//! `Json`, `Query` and `Path` extractors whose rejections are our JSON `{code, message}`
//! errors rather than axum's plain-text ones.

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON request body.
pub struct Json<T>(pub T);

/// Query string parameters.
pub struct Query<T>(pub T);

/// Path parameters.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        use axum::extract::rejection::JsonRejection as R;
        match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(mut value)) => {
                integral_floats_to_integers(&mut value);
                serde_json::from_value(value).map(Json).map_err(|e| {
                    ApiError::BadRequest(format!(
                        "Failed to deserialize the JSON body into the target type: {e}"
                    ))
                })
            }
            Err(R::BytesRejection(e))
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::TooLarge(e.body_text()))
            }
            Err(R::MissingJsonContentType(_)) => Err(ApiError::UnsupportedType(
                "send Content-Type: application/json".into(),
            )),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// JSON has one number type: `64.0` is the integer 64 (JSON Schema agrees, and clients that
/// only have floats send it so), but serde refuses it for an integer field.
fn integral_floats_to_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Exactly representable and in range: i64 covers every integer field we have.
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_floats_become_integers_and_others_stay() {
        let mut v = serde_json::json!({"capacity": 64.0, "items": [{"quantity": 2.0}], "f": 1.5});
        integral_floats_to_integers(&mut v);
        assert_eq!(
            v["capacity"],
            serde_json::json!(64),
            "64.0 is the integer 64"
        );
        assert!(
            v["capacity"].is_i64() && v["items"][0]["quantity"].is_i64(),
            "{v}"
        );
        assert!(v["f"].is_f64(), "1.5 is no integer: {v}");
        let n: u32 = serde_json::from_value(v["items"][0]["quantity"].clone()).unwrap();
        assert_eq!(n, 2);
    }
}
