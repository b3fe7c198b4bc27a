//! ATIS-1000082 request errors: `{"requestError":{"serviceException"|
//! "policyException":{"messageId","text","variables"}}}` (specs §5.3).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The `Content-Type` every POST must carry (SVC4004 names it).
pub const JSON_MEDIA_TYPE: &str = "application/json";

/// A request the service refuses before any signing or verification.
///
/// Each variant is one row of the ATIS-1000082 table (specs §5.3): a
/// [`message_id`](RequestError::message_id), an HTTP
/// [`status`](RequestError::status), a text template with `%1`/`%2` and the
/// [`variables`](RequestError::variables) that fill it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// SVC4000, 400: the POST has no body.
    #[error("Missing request body")]
    MissingBody,
    /// SVC4001, 400: a mandatory field is absent (the variable names it,
    /// e.g. `dest.tn`).
    #[error("Missing mandatory parameter '{0}'")]
    MissingParameter(String),
    /// SVC4002, 406: the `Accept` header excludes JSON.
    #[error("Requested response body type '{0}' is not supported")]
    NotAcceptable(String),
    /// SVC4003, 404: unknown path (or signing asked of an instance with no key).
    #[error("Requested resource was not found")]
    NotFound,
    /// SVC4004, 415: the body is not `application/json`.
    #[error("Unsupported request body type, expected '{}'", JSON_MEDIA_TYPE)]
    UnsupportedMediaType {
        /// The `Content-Type` received (logged, not returned).
        found: String,
    },
    /// SVC4005, 400: a field has an unusable value.
    #[error("Invalid '{name}' parameter value: {reason}")]
    InvalidValue {
        /// The field, e.g. `orig.tn`.
        name: String,
        /// Why it is unusable.
        reason: String,
    },
    /// SVC4006, 400: the body is not JSON.
    #[error("Failed to parse received message body: {0}")]
    Unparsable(String),
    /// SVC4007, 411: a body sent without `Content-Length` (chunked).
    #[error("Missing mandatory Content-Length header")]
    MissingContentLength,
    /// 413 with message id SVC4005 (`body`): the body is larger than the cap.
    /// ATIS-1000082 has no row for this; see docs/server.md.
    #[error("Invalid 'body' parameter value: request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The cap, bytes.
        limit: usize,
    },
    /// POL4001, 401: signing, verification (and `/metrics` with
    /// `--metrics-auth`) need `Authorization: Bearer KEY` with a key of
    /// `--api-keys`. ATIS-1000082 has no row for this; the response also
    /// carries `WWW-Authenticate: Bearer` (RFC 6750 §3).
    #[error("Unauthorized: a valid API key is required (Authorization: Bearer KEY)")]
    Unauthorized {
        /// A key was presented (and was wrong) rather than none.
        presented: bool,
    },
    /// POL4050, 405: the path exists but not with this method.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// POL5000, 500: something failed on our side (signing backend, timeout).
    /// `detail` is logged, never returned.
    #[error("Internal Server Error. Please try again later")]
    Internal {
        /// What went wrong (for the log).
        detail: String,
    },
}

impl RequestError {
    /// The ATIS message id (`SVC4001`, `POL4050`...).
    pub fn message_id(&self) -> &'static str {
        match self {
            RequestError::MissingBody => "SVC4000",
            RequestError::MissingParameter(_) => "SVC4001",
            RequestError::NotAcceptable(_) => "SVC4002",
            RequestError::NotFound => "SVC4003",
            RequestError::UnsupportedMediaType { .. } => "SVC4004",
            RequestError::InvalidValue { .. } | RequestError::BodyTooLarge { .. } => "SVC4005",
            RequestError::Unparsable(_) => "SVC4006",
            RequestError::MissingContentLength => "SVC4007",
            RequestError::Unauthorized { .. } => "POL4001",
            RequestError::MethodNotAllowed => "POL4050",
            RequestError::Internal { .. } => "POL5000",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            RequestError::MissingBody
            | RequestError::MissingParameter(_)
            | RequestError::InvalidValue { .. }
            | RequestError::Unparsable(_) => StatusCode::BAD_REQUEST,
            RequestError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            RequestError::NotFound => StatusCode::NOT_FOUND,
            RequestError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RequestError::MissingContentLength => StatusCode::LENGTH_REQUIRED,
            RequestError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            RequestError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            RequestError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// `serviceException` (SVC) or `policyException` (POL).
    pub fn exception_kind(&self) -> &'static str {
        if self.message_id().starts_with("POL") {
            "policyException"
        } else {
            "serviceException"
        }
    }

    /// The `variables` array (`%1`, `%2`).
    pub fn variables(&self) -> Vec<String> {
        match self {
            RequestError::MissingParameter(name) => vec![name.clone()],
            RequestError::NotAcceptable(accept) => vec![accept.clone()],
            RequestError::UnsupportedMediaType { .. } => vec![JSON_MEDIA_TYPE.to_owned()],
            RequestError::InvalidValue { name, reason } => vec![name.clone(), reason.clone()],
            RequestError::Unparsable(why) => vec![why.clone()],
            RequestError::BodyTooLarge { limit } => vec![
                "body".to_owned(),
                format!("request body is larger than {limit} bytes"),
            ],
            RequestError::MissingBody
            | RequestError::NotFound
            | RequestError::MissingContentLength
            | RequestError::MethodNotAllowed
            | RequestError::Unauthorized { .. }
            | RequestError::Internal { .. } => vec![],
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "requestError": {
                self.exception_kind(): {
                    "messageId": self.message_id(),
                    "text": self.to_string(),
                    "variables": self.variables(),
                }
            }
        })
    }
}

/// Set on error responses so the request log can name the message id.
#[derive(Debug, Clone, Copy)]
pub struct ErrorTag(pub &'static str);

impl IntoResponse for RequestError {
    fn into_response(self) -> Response {
        let mut resp = (self.status(), axum::Json(self.body())).into_response();
        if let RequestError::Unauthorized { presented } = self {
            // RFC 6750 §3: a wrong token is `invalid_token`; none at all
            // gets the bare challenge.
            let challenge = if presented {
                "Bearer realm=\"shaken\", error=\"invalid_token\""
            } else {
                "Bearer realm=\"shaken\""
            };
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static(challenge),
            );
        }
        resp.extensions_mut().insert(ErrorTag(self.message_id()));
        resp
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn table_of_specs_5_3() {
        let cases: Vec<(RequestError, &str, u16, &str)> = vec![
            (
                RequestError::MissingBody,
                "SVC4000",
                400,
                "Missing request body",
            ),
            (
                RequestError::MissingParameter("attest".into()),
                "SVC4001",
                400,
                "Missing mandatory parameter 'attest'",
            ),
            (
                RequestError::NotAcceptable("text/html".into()),
                "SVC4002",
                406,
                "Requested response body type 'text/html' is not supported",
            ),
            (
                RequestError::NotFound,
                "SVC4003",
                404,
                "Requested resource was not found",
            ),
            (
                RequestError::UnsupportedMediaType {
                    found: "text/plain".into(),
                },
                "SVC4004",
                415,
                "Unsupported request body type, expected 'application/json'",
            ),
            (
                RequestError::InvalidValue {
                    name: "attest".into(),
                    reason: "must be A, B or C".into(),
                },
                "SVC4005",
                400,
                "Invalid 'attest' parameter value: must be A, B or C",
            ),
            (
                RequestError::Unparsable("EOF".into()),
                "SVC4006",
                400,
                "Failed to parse received message body: EOF",
            ),
            (
                RequestError::MissingContentLength,
                "SVC4007",
                411,
                "Missing mandatory Content-Length header",
            ),
            (
                RequestError::MethodNotAllowed,
                "POL4050",
                405,
                "Method not allowed",
            ),
            (
                RequestError::Internal {
                    detail: "hsm down".into(),
                },
                "POL5000",
                500,
                "Internal Server Error. Please try again later",
            ),
            (
                RequestError::Unauthorized { presented: true },
                "POL4001",
                401,
                "Unauthorized: a valid API key is required (Authorization: Bearer KEY)",
            ),
            (
                RequestError::BodyTooLarge { limit: 16 },
                "SVC4005",
                413,
                "Invalid 'body' parameter value: request body is larger than 16 bytes",
            ),
        ];
        for (e, id, status, text) in cases {
            assert_eq!(e.message_id(), id);
            assert_eq!(e.status().as_u16(), status, "{id}");
            assert_eq!(e.to_string(), text);
            let body = e.body();
            let exc = &body["requestError"][e.exception_kind()];
            assert_eq!(exc["messageId"], id);
            assert_eq!(exc["text"], text);
            assert!(exc["variables"].is_array());
        }
    }

    #[test]
    fn pol_is_policy_exception_and_details_stay_private() {
        let e = RequestError::Internal {
            detail: "secret".into(),
        };
        assert_eq!(e.exception_kind(), "policyException");
        assert!(!e.body().to_string().contains("secret"));
        assert_eq!(RequestError::NotFound.exception_kind(), "serviceException");
    }

    #[test]
    fn variables_fill_the_template() {
        let e = RequestError::InvalidValue {
            name: "orig.tn".into(),
            reason: "bad".into(),
        };
        let template = "Invalid '%1' parameter value: %2";
        let vars = e.variables();
        let filled = template.replace("%1", &vars[0]).replace("%2", &vars[1]);
        assert_eq!(filled, e.to_string());
    }
}
