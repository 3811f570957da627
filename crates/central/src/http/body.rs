//! The JSON body extractor: the size limit applies to the body *after* decompression (a zstd
//! or gzip bomb is refused with 413 once it inflates past the limit), and a malformed body is
//! a 400 that names the problem.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use super::ApiFailure;

/// The body limit in force for a request (inserted as a request extension by the router).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON request body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<BodyLimit>().map(|l| l.0).unwrap_or(1 << 20);
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            if !ct.starts_with("application/json") {
                return Err(ApiFailure::new(
                    axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!("expected application/json, got {ct}"),
                ));
            }
        }
        // The request decompression layer has already removed Content-Encoding when it
        // decoded; a declared plain length above the limit is refused without reading.
        if let Some(len) =
            req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            && len > limit
            && !req.headers().contains_key(header::CONTENT_ENCODING)
        {
            return Err(ApiFailure::too_large(limit));
        }
        let mut body = req.into_body();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ApiFailure::bad_request("body_unreadable", format!("could not read the request body: {e}"))
            })?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err(ApiFailure::too_large(limit));
                }
                buf.extend_from_slice(&data);
            }
        }
        serde_json::from_slice(&buf)
            .map(JsonBody)
            .map_err(|e| ApiFailure::bad_request("invalid_json", format!("the request body is not valid: {e}")))
    }
}
