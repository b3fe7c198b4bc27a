//! The handlers: request reading (headers, size, JSON), field validation
//! (SVC4001/SVC4005), signing and verification.

use super::error::{RequestError, JSON_MEDIA_TYPE};
use super::{AppState, ChainSource};
use crate::identity::IdentityHeader;
use crate::passport::{self, Attestation, Claims, Header};
use crate::report::{reason_phrase, Verstat};
use crate::tn::{TelephoneNumber, TnPolicy};
use crate::verify::{self, CallContext, Failure, PartyId, VerifyError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

/// What a verification response said, for the request log and metrics.
#[derive(Debug, Clone)]
pub(super) struct Outcome {
    pub verstat: Verstat,
    pub reason_code: Option<u16>,
    pub reason_id: Option<String>,
}

/// Longest `Accept` value echoed back in SVC4002.
const MAX_ECHO: usize = 100;

pub(super) async fn not_found() -> RequestError {
    RequestError::NotFound
}

pub(super) async fn method_not_allowed() -> RequestError {
    RequestError::MethodNotAllowed
}

pub(super) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.render_metrics(),
    )
        .into_response()
}

/// SVC4002: the client must accept JSON (`application/json`,
/// `application/*` or `*/*` with q > 0). No `Accept` header accepts anything.
fn check_accept(headers: &HeaderMap) -> Result<(), RequestError> {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    if values.is_empty() {
        return Ok(());
    }
    let ok = values.iter().flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused && matches!(media.as_str(), "application/json" | "application/*" | "*/*")
    });
    if ok {
        Ok(())
    } else {
        Err(RequestError::NotAcceptable(
            values.join(", ").chars().take(MAX_ECHO).collect(),
        ))
    }
}

/// Read the body of a POST as JSON, in the order: Accept (SVC4002),
/// Content-Length (SVC4007 for chunked bodies, SVC4000 for none, 413 over
/// the cap), Content-Type (SVC4004), then the JSON itself (SVC4006).
async fn read_json(req: Request, max_body: usize) -> Result<Value, RequestError> {
    let (parts, body) = req.into_parts();
    check_accept(&parts.headers)?;
    match parts.headers.get(header::CONTENT_LENGTH) {
        None if parts.headers.contains_key(header::TRANSFER_ENCODING) => {
            return Err(RequestError::MissingContentLength)
        }
        None => return Err(RequestError::MissingBody),
        Some(v) => {
            let n = v
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or(RequestError::MissingContentLength)?;
            if n == 0 {
                return Err(RequestError::MissingBody);
            }
            if n > u64::try_from(max_body).unwrap_or(u64::MAX) {
                return Err(RequestError::BodyTooLarge { limit: max_body });
            }
        }
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(not text)"))
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(JSON_MEDIA_TYPE) {
        return Err(RequestError::UnsupportedMediaType {
            found: content_type.chars().take(MAX_ECHO).collect(),
        });
    }
    let bytes = read_body(body, max_body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RequestError::MissingBody);
    }
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| RequestError::Unparsable(e.to_string()))?;
    if !value.is_object() {
        return Err(RequestError::Unparsable(
            "the body must be a JSON object".into(),
        ));
    }
    Ok(value)
}

async fn read_body(body: Body, max_body: usize) -> Result<axum::body::Bytes, RequestError> {
    // Content-Length was checked against the cap and hyper enforces it, so a
    // failure here is a broken or truncated upload.
    axum::body::to_bytes(body, max_body)
        .await
        .map_err(|e| RequestError::Unparsable(format!("the request body could not be read: {e}")))
}

/// A mandatory member (absent or null: SVC4001 naming `path`).
fn field<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Value, RequestError> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(RequestError::MissingParameter(path.to_owned())),
        Some(v) => Ok(v),
    }
}

fn invalid(path: &str, reason: impl Into<String>) -> RequestError {
    RequestError::InvalidValue {
        name: path.to_owned(),
        reason: reason.into(),
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, RequestError> {
    v.as_object()
        .ok_or_else(|| invalid(path, "must be a JSON object"))
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, RequestError> {
    v.as_str().ok_or_else(|| invalid(path, "must be a string"))
}

fn unix_time(v: &Value, path: &str) -> Result<i64, RequestError> {
    v.as_i64()
        .filter(|t| *t >= 0)
        .ok_or_else(|| invalid(path, "must be a non-negative integer (Unix seconds)"))
}

fn tn(s: &str, path: &str, policy: &TnPolicy) -> Result<TelephoneNumber, RequestError> {
    TelephoneNumber::parse(s, policy).map_err(|e| invalid(path, e.to_string()))
}

/// `dest.tn` / `to.tn`: an array of numbers (a single string is accepted).
fn tn_list(
    v: &Value,
    path: &str,
    policy: &TnPolicy,
    max: usize,
) -> Result<Vec<TelephoneNumber>, RequestError> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::String(_) => vec![v],
        _ => return Err(invalid(path, "must be an array of telephone numbers")),
    };
    if items.is_empty() {
        return Err(invalid(path, "must hold at least one telephone number"));
    }
    if items.len() > max {
        return Err(invalid(
            path,
            format!("holds {} numbers; at most {max} are accepted", items.len()),
        ));
    }
    items
        .into_iter()
        .map(|item| tn(string(item, path)?, path, policy))
        .collect()
}

fn request_object<'a>(body: &'a Value, key: &str) -> Result<&'a Map<String, Value>, RequestError> {
    let top = object(body, "body")?;
    object(field(top, key, key)?, key)
}

pub(super) async fn signing(State(state): State<AppState>, req: Request) -> Response {
    match sign(&state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn sign(state: &AppState, req: Request) -> Result<Response, RequestError> {
    let config = state.config();
    let Some(key) = &config.signing else {
        return Err(RequestError::NotFound);
    };
    let body = read_json(req, config.max_body).await?;
    let sr = request_object(&body, "signingRequest")?;
    let policy = config.verifier.policy().tn;
    let limits = config.verifier.limits();

    let attest = match string(field(sr, "attest", "attest")?, "attest")? {
        "A" => Attestation::A,
        "B" => Attestation::B,
        "C" => Attestation::C,
        other => {
            return Err(invalid(
                "attest",
                format!("{:?} is not \"A\", \"B\" or \"C\"", truncate(other)),
            ))
        }
    };
    let dest = object(field(sr, "dest", "dest")?, "dest")?;
    let dest = tn_list(
        field(dest, "tn", "dest.tn")?,
        "dest.tn",
        &policy,
        limits.max_dest_entries,
    )?;
    let iat = unix_time(field(sr, "iat", "iat")?, "iat")?;
    let orig = object(field(sr, "orig", "orig")?, "orig")?;
    let orig = tn(
        string(field(orig, "tn", "orig.tn")?, "orig.tn")?,
        "orig.tn",
        &policy,
    )?;
    let origid = string(field(sr, "origid", "origid")?, "origid")?;
    let origid = uuid::Uuid::parse_str(origid)
        .map_err(|e| invalid("origid", format!("not a UUID: {e}")))?
        .hyphenated()
        .to_string();

    let header = Header::shaken(&key.x5u);
    let claims = Claims::shaken(
        attest,
        orig.to_string(),
        dest.iter().map(ToString::to_string).collect(),
        iat,
        origid,
    );
    let token = passport::sign(&header, &claims, key.signer.as_ref()).map_err(|e| {
        RequestError::Internal {
            detail: format!("signing failed: {e}"),
        }
    })?;
    state.metrics().signed();
    let identity = IdentityHeader::shaken(token, key.x5u.clone()).to_string();
    Ok(Json(json!({"signingResponse": {"identity": identity}})).into_response())
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

pub(super) async fn verification(State(state): State<AppState>, req: Request) -> Response {
    match verify_request(&state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// The verification response and the outcome for the log.
fn respond(state: &AppState, mut body: Map<String, Value>, outcome: Outcome) -> Response {
    body.insert("verstat".into(), outcome.verstat.as_str().into());
    state
        .metrics()
        .verification(outcome.verstat, outcome.reason_code);
    let mut resp = Json(json!({"verificationResponse": body})).into_response();
    resp.extensions_mut().insert(outcome);
    resp
}

async fn verify_request(state: &AppState, req: Request) -> Result<Response, RequestError> {
    let config = state.config();
    let body = read_json(req, config.max_body).await?;
    let vr = request_object(&body, "verificationRequest")?;
    let verifier = &config.verifier;
    let policy = verifier.policy().tn;

    let from = object(field(vr, "from", "from")?, "from")?;
    let from = tn(
        string(field(from, "tn", "from.tn")?, "from.tn")?,
        "from.tn",
        &policy,
    )?;
    let to = object(field(vr, "to", "to")?, "to")?;
    let to = tn_list(
        field(to, "tn", "to.tn")?,
        "to.tn",
        &policy,
        verifier.limits().max_dest_entries,
    )?;
    let time = unix_time(field(vr, "time", "time")?, "time")?;
    let identity = string(field(vr, "identity", "identity")?, "identity")?.trim();
    if identity.is_empty() {
        return Err(invalid("identity", "must not be empty"));
    }

    let now = config.clock.now();
    // E3: the request itself must be fresh.
    let skew = now.saturating_sub(time).saturating_abs();
    if skew > config.freshness {
        let mut body = Map::new();
        body.insert("reasoncode".into(), 403.into());
        body.insert("reasontext".into(), reason_phrase(403).into());
        body.insert(
            "reasondesc".into(),
            format!(
                "request time {time} is {skew} s away from the server clock {now}; at most {} s are allowed",
                config.freshness
            )
            .into(),
        );
        return Ok(respond(
            state,
            body,
            Outcome {
                verstat: Verstat::NoValidation,
                reason_code: Some(403),
                reason_id: Some("request-time-stale".into()),
            },
        ));
    }

    let ctx = CallContext {
        now,
        orig: vec![PartyId::Tn(from)],
        dest: to.into_iter().map(PartyId::Tn).collect(),
        ..CallContext::default()
    };
    let result = match verify::parse_identity_or_token(identity, verifier.limits()) {
        Err(e) => Err(Box::new(Failure::from(e))),
        Ok(id) => match (&config.chain_source, &state.0.online) {
            (ChainSource::Fixed(chain), _) => match &config.crl_source {
                None => verifier.verify_with_chain(&id, &ctx, chain),
                Some(src) => match verifier.prepare(&id, &ctx) {
                    Err(f) => Err(f),
                    Ok(pending) => {
                        let (crls, failures) = match src.cached(chain) {
                            Some(r) => r,
                            None => src.get(chain).await,
                        };
                        verifier.complete_with_crls(pending, Ok(chain), ctx.now, &crls, &failures)
                    }
                },
            },
            (ChainSource::Online(_), Some(online)) => match online.verify_cached(&id, &ctx) {
                Some(r) => r,
                None => {
                    // Leave a fifth of the request budget to answer with 436.
                    let budget = config.request_timeout.mul_f32(0.8);
                    match tokio::time::timeout(budget, online.verify(&id, &ctx)).await {
                        Ok(r) => r,
                        Err(_) => Err(Box::new(Failure::from(VerifyError::CertUnavailable {
                            detail: format!(
                                "x5u certificate was not obtained within {} ms",
                                budget.as_millis()
                            ),
                            cause: "fetch-timeout",
                        }))),
                    }
                }
            },
            (ChainSource::Online(_), None) => {
                return Err(RequestError::Internal {
                    detail: "online chain source without an online verifier".into(),
                })
            }
        },
    };
    // Only the verdict goes back: no full Report is built per request.
    let mut body = Map::new();
    let outcome = match &result {
        Err(f) => {
            let r = f.error.reason();
            tracing::debug!(target: "shaken::server", reason = %r.id, detail = %r.detail, "verification did not pass");
            body.insert("reasoncode".into(), r.code.into());
            body.insert("reasontext".into(), r.text.into());
            body.insert("reasondesc".into(), r.detail.into());
            Outcome {
                verstat: f.error.verstat(),
                reason_code: Some(r.code),
                reason_id: Some(r.id),
            }
        }
        Ok(v) => {
            if let Some(a) = v.attestation() {
                body.insert("attest".into(), a.as_str().into());
            }
            Outcome {
                verstat: Verstat::Passed,
                reason_code: None,
                reason_id: None,
            }
        }
    };
    Ok(respond(state, body, outcome))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use axum::http::HeaderValue;

    fn accept(v: &str) -> Result<(), RequestError> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        check_accept(&h)
    }

    #[test]
    fn accept_header() {
        assert!(check_accept(&HeaderMap::new()).is_ok());
        assert!(accept("application/json").is_ok());
        assert!(accept("text/html, */*;q=0.1").is_ok());
        assert!(accept("application/*").is_ok());
        assert!(accept("Application/JSON; charset=utf-8").is_ok());
        assert_eq!(
            accept("text/html").unwrap_err(),
            RequestError::NotAcceptable("text/html".into())
        );
        assert!(accept("application/json;q=0").is_err());
        assert!(accept("application/xml").is_err());
    }

    #[test]
    fn fields() {
        let v = json!({"a": null, "s": "x", "n": 5, "neg": -1, "f": 1.5, "o": {}});
        let o = v.as_object().unwrap();
        assert_eq!(
            field(o, "a", "p.a").unwrap_err(),
            RequestError::MissingParameter("p.a".into())
        );
        assert_eq!(
            field(o, "zz", "zz").unwrap_err(),
            RequestError::MissingParameter("zz".into())
        );
        assert_eq!(string(&o["s"], "s").unwrap(), "x");
        assert!(matches!(
            string(&o["n"], "n"),
            Err(RequestError::InvalidValue { .. })
        ));
        assert_eq!(unix_time(&o["n"], "n").unwrap(), 5);
        assert!(unix_time(&o["neg"], "neg").is_err());
        assert!(unix_time(&o["f"], "f").is_err());
        assert!(unix_time(&o["s"], "s").is_err());
        assert!(object(&o["o"], "o").is_ok());
        assert!(object(&o["s"], "s").is_err());
    }

    #[test]
    fn tn_lists() {
        let p = TnPolicy::default();
        let ok = tn_list(&json!(["+1 215 555 0121", "2155550122"]), "to.tn", &p, 10).unwrap();
        assert_eq!(ok[0].as_str(), "12155550121");
        assert_eq!(ok[1].as_str(), "12155550122");
        assert_eq!(
            tn_list(&json!("12155550121"), "to.tn", &p, 10)
                .unwrap()
                .len(),
            1
        );
        for bad in [
            json!([]),
            json!(5),
            json!([5]),
            json!(["abc"]),
            json!({"x": 1}),
        ] {
            let e = tn_list(&bad, "to.tn", &p, 10).unwrap_err();
            assert!(
                matches!(&e, RequestError::InvalidValue { name, .. } if name == "to.tn"),
                "{bad}: {e:?}"
            );
        }
        assert!(tn_list(&json!(["1", "2", "3"]), "dest.tn", &p, 2).is_err());
    }
}
