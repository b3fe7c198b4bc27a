//! The handlers: request reading (headers, size, JSON), field validation
//! (SVC4001/SVC4005), signing and verification.

use super::error::{RequestError, JSON_MEDIA_TYPE};
use super::AppState;
use crate::atis::{self, RequestPolicy, SignRequest, VerifyRequest};
use crate::report::{reason_phrase, Verstat};
use crate::verify::{CallContext, Failure, VerifyError};
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

/// The origid (and attestation) of a signed or verified PASSporT, for the
/// request log.
#[derive(Debug, Clone)]
pub(super) struct Origid(pub String, pub Option<crate::passport::Attestation>);

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

/// 200 `{"status":"ready"}` once trust anchors, the signing key and its
/// certificate are loaded (and unexpired); 503 `{"status":"not-ready",
/// "reasons":[...]}` before.
pub(super) async fn ready(State(state): State<AppState>) -> Response {
    let why = state.not_ready();
    if why.is_empty() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not-ready", "reasons": why})),
        )
            .into_response()
    }
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
    // Without an allocation on the way: every request of the service passes here.
    let values = || {
        headers
            .get_all(header::ACCEPT)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
    };
    if values().next().is_none() {
        return Ok(());
    }
    let ok = values().flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused
            && ["application/json", "application/*", "*/*"]
                .iter()
                .any(|m| media.eq_ignore_ascii_case(m))
    });
    if ok {
        Ok(())
    } else {
        Err(RequestError::NotAcceptable(
            values()
                .collect::<Vec<_>>()
                .join(", ")
                .chars()
                .take(MAX_ECHO)
                .collect(),
        ))
    }
}

/// Read the body of a POST as JSON, in the order: Accept (SVC4002),
/// Content-Length (SVC4007 for chunked bodies, SVC4000 for none, 413 over
/// the cap), Content-Type (SVC4004), then the JSON itself (SVC4006).
pub(super) async fn read_json(
    req: Request,
    max_body: usize,
) -> Result<axum::body::Bytes, RequestError> {
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
    Ok(bytes)
}

/// Read the body of a POST of bytes (a capture): Content-Length required
/// (SVC4007 for chunked bodies, SVC4000 for none, 413 over `max_body`).
pub(super) async fn read_body_bounded(
    req: Request,
    max_body: usize,
) -> Result<axum::body::Bytes, RequestError> {
    let (parts, body) = req.into_parts();
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
    read_body(body, max_body).await
}

/// The share of the request timeout a check may spend waiting for the
/// network (the rest is left to answer).
pub(super) fn request_timeout_budget(state: &AppState, share: f64) -> std::time::Duration {
    let whole = state.config().request_timeout;
    // Never a panic, however large the configured timeout.
    std::time::Duration::try_from_secs_f64(whole.as_secs_f64() * share).unwrap_or(whole)
}

async fn read_body(body: Body, max_body: usize) -> Result<axum::body::Bytes, RequestError> {
    // Content-Length was checked against the cap and hyper enforces it, so a
    // failure here is a broken or truncated upload.
    axum::body::to_bytes(body, max_body)
        .await
        .map_err(|e| RequestError::Unparsable(format!("the request body could not be read: {e}")))
}

/// A request the library refused, as SVC4001 (a member missing), SVC4006
/// (not a JSON object) or SVC4005 (a member with an unusable value).
fn request_error(e: &atis::RequestError) -> RequestError {
    match (e, e.field()) {
        (atis::RequestError::NotJson { detail, .. }, _) => RequestError::Unparsable(detail.clone()),
        (atis::RequestError::Missing(_), Some(field)) => {
            RequestError::MissingParameter(field.to_owned())
        }
        (_, field) => RequestError::InvalidValue {
            name: field.unwrap_or("body").to_owned(),
            reason: e.to_string(),
        },
    }
}

/// ATIS-1000082 requests come inside their wrapper object.
fn request_policy(base: &RequestPolicy) -> RequestPolicy {
    let mut p = base.clone();
    p.require_wrapper = true;
    p
}

pub(super) async fn signing(State(state): State<AppState>, req: Request) -> Response {
    match sign(&state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn sign(state: &AppState, req: Request) -> Result<Response, RequestError> {
    let config = state.config();
    let services = state.services();
    let Some(signing) = &services.signing else {
        return Err(RequestError::NotFound);
    };
    let body = read_json(req, config.max_body).await?;
    // Extension (docs/server.md): a `div` member asks for a div PASSporT
    // (RFC 8946) for a retargeted call.
    match crate::div::DivSignRequest::parse(&body, &crate::Limits::default()) {
        Ok(None) => {}
        Ok(Some(div)) => {
            let signed = signing.sign_div_request(&div).map_err(|e| {
                let name = match &e {
                    crate::div::DivSignError::DestInvalid { .. }
                    | crate::div::DivSignError::DestUnchanged { .. } => "dest.tn",
                    crate::div::DivSignError::HiInvalid { .. } => "div.hi",
                    _ => "div.identity",
                };
                RequestError::InvalidValue {
                    name: name.to_owned(),
                    reason: e.to_string(),
                }
            })?;
            return Ok(
                Json(json!({"signingResponse": {"identity": signed.identity}})).into_response(),
            );
        }
        Err(crate::div::DivRequestError::Member { member, detail }) => {
            return Err(RequestError::InvalidValue {
                name: member.to_owned(),
                reason: detail,
            })
        }
    }
    let mut policy = request_policy(signing.request_policy());
    policy.max_dest_entries = services.vs.request_policy().max_dest_entries;
    let request = SignRequest::parse_with(&body, &policy).map_err(|e| request_error(&e))?;
    let signed = signing.sign(&request).map_err(|e| RequestError::Internal {
        detail: format!("signing failed: {e}"),
    })?;
    state.metrics().signed_with(request.attest);
    let mut body = json!({"signingResponse": {"identity": signed.identity}});
    // Extension (issue 16): a separate ppt=rcd PASSporT, the second
    // Identity header to add.
    if let Some(rcd) = &signed.rcd_identity {
        body["signingResponse"]["rcdIdentity"] = rcd.clone().into();
    }
    let mut resp = Json(body).into_response();
    resp.extensions_mut()
        .insert(Origid(request.origid.to_string(), Some(request.attest)));
    Ok(resp)
}

pub(super) async fn verification(State(state): State<AppState>, req: Request) -> Response {
    match verify_request(&state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// `{"verificationResponse": {...}}` without the diverted-call extension,
/// serialised straight from this struct (no `serde_json::Value` per
/// request). The members are in the order a `serde_json::Map` (sorted
/// keys) writes them, so the bytes are those of the map it replaces.
#[derive(serde::Serialize)]
struct VerificationAnswer {
    #[serde(rename = "verificationResponse")]
    response: AnswerBody,
}

#[derive(serde::Serialize, Default)]
struct AnswerBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    attest: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rcd: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoncode: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasondesc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasonid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasontext: Option<String>,
    verstat: &'static str,
}

/// The metrics of a verification response.
fn count(
    state: &AppState,
    outcome: &Outcome,
    catalogue_id: Option<&'static str>,
    verified: Option<&Origid>,
) {
    let m = state.metrics();
    m.verification(outcome.verstat, outcome.reason_code);
    if let Some(id) = catalogue_id {
        m.reason(id);
    }
    if let Some(a) = verified.and_then(|v| v.1) {
        m.passed_with(a);
    }
}

/// Put the outcome (and the verified origid) on the response for the log.
fn tag(mut resp: Response, outcome: Outcome, verified: Option<Origid>) -> Response {
    resp.extensions_mut().insert(outcome);
    if let Some(v) = verified {
        resp.extensions_mut().insert(v);
    }
    resp
}

/// The verification response and the outcome for the log. `catalogue_id`
/// is the failure's stable id from the diagnostic catalogue (the metric
/// label); `verified` the origid and attestation of a PASSporT that passed.
fn respond(
    state: &AppState,
    mut body: AnswerBody,
    outcome: Outcome,
    catalogue_id: Option<&'static str>,
    verified: Option<Origid>,
) -> Response {
    body.verstat = outcome.verstat.as_str();
    count(state, &outcome, catalogue_id, verified.as_ref());
    let resp = Json(VerificationAnswer { response: body }).into_response();
    tag(resp, outcome, verified)
}

/// [`respond`] for the diverted-call extension's members (a map).
fn respond_map(
    state: &AppState,
    mut body: Map<String, Value>,
    outcome: Outcome,
    catalogue_id: Option<&'static str>,
    verified: Option<Origid>,
) -> Response {
    body.insert("verstat".into(), outcome.verstat.as_str().into());
    count(state, &outcome, catalogue_id, verified.as_ref());
    let resp = Json(json!({"verificationResponse": body})).into_response();
    tag(resp, outcome, verified)
}

async fn verify_request(state: &AppState, req: Request) -> Result<Response, RequestError> {
    let config = state.config();
    let body = read_json(req, config.max_body).await?;
    let services = state.services();
    let vs = &services.vs;
    let request = VerifyRequest::parse_with(&body, &request_policy(vs.request_policy()))
        .map_err(|r| request_error(&r.error))?;
    let time = request.time;

    let now = config.clock.now();
    // E3: the request itself must be fresh.
    let skew = now.saturating_sub(time).saturating_abs();
    if skew > config.freshness {
        let body = AnswerBody {
            reasoncode: Some(403),
            reasontext: Some(reason_phrase(403).to_owned()),
            reasondesc: Some(format!(
                "request time {time} is {skew} s away from the server clock {now}; at most {} s are allowed",
                config.freshness
            )),
            reasonid: Some("request-time-stale".to_owned()),
            ..AnswerBody::default()
        };
        return Ok(respond(
            state,
            body,
            Outcome {
                verstat: Verstat::NoValidation,
                reason_code: Some(403),
                reason_id: Some("request-time-stale".into()),
            },
            Some("request-time-stale"),
            None,
        ));
    }

    // The call id derived from (from, to, time): a client's retry of this
    // request is a fork of the same call, not a replay.
    let ctx = request.context(None);
    let ctx = CallContext { now, ..ctx };
    // Extension (docs/server.md): the call's div PASSporTs in `identities`.
    match crate::div::VerifyExtension::parse(&body, vs.verifier().limits()) {
        Ok(None) => {}
        Ok(Some(ext)) => return Box::pin(verify_diverted(state, vs, &request, &ext, &ctx)).await,
        Err(crate::div::DivRequestError::Member { member, detail }) => {
            return Err(RequestError::InvalidValue {
                name: member.to_owned(),
                reason: detail,
            })
        }
    }
    let started = std::time::Instant::now();
    let budget = config.request_timeout.mul_f32(0.8);
    // With Redis the replay check is awaited after the verification, so
    // this worker verifies other calls meanwhile.
    let (run, replay) = services.replay_split();
    let result = match run.parse_identity(&request.identity) {
        Err(f) => Err(f),
        Ok(id) => match run.verify_cached(&id, &ctx) {
            Some(r) => r,
            None => {
                // Leave a fifth of the request budget to answer with 436.
                // Boxed: the fetch's state is large, and only a cache miss
                // needs it; inline, every request's future would carry
                // (and copy) its room.
                let fetch = Box::pin(run.verify_header_without_rcd(&id, &ctx));
                match tokio::time::timeout(budget, fetch).await {
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
    };
    let result = match (replay, result) {
        (Some(guard), Ok(v)) => {
            let check = Box::pin(crate::replay::check_verified(
                &**guard,
                &v,
                ctx.call_id.as_deref(),
                now,
            ))
            .await;
            vs.verifier().settle_replay(v, check)
        }
        (_, r) => r,
    };
    // With fetch-rcd, the Rich Call Data content, in what is left of the
    // budget: a logo that does not come in time leaves the RCD unverified,
    // never the call.
    // A PASSporT without RCD claims has nothing to complete (complete_rcd
    // would hand back its copy unchanged): no copy of the verified
    // PASSporT, no future for it.
    let result = match (&result, budget.checked_sub(started.elapsed())) {
        (Ok(v), Some(left)) if v.rcd().is_some() && !left.is_zero() => {
            match tokio::time::timeout(left, Box::pin(vs.complete_rcd(result.clone()))).await {
                Ok(done) => done,
                Err(_) => result,
            }
        }
        _ => result,
    };
    // Our failure, not the call's (Redis down, failure policy closed).
    if let Err(f) = &result {
        if let VerifyError::ReplayUnavailable { detail } = &f.error {
            return Err(RequestError::Internal {
                detail: detail.clone(),
            });
        }
    }
    // Only the verdict goes back: no full Report is built per request.
    let mut body = AnswerBody {
        // Extension (issue 16): the Rich Call Data, with the `rcd` object of
        // every other surface, when the PASSporT carries some.
        rcd: crate::verify::rcd_report_of(&result).and_then(|rcd| serde_json::to_value(rcd).ok()),
        ..AnswerBody::default()
    };
    let mut catalogue_id = None;
    let mut verified = None;
    let outcome = match &result {
        Err(f) => {
            catalogue_id = Some(crate::Diagnostic::id(&f.error));
            let r = f.error.reason();
            tracing::debug!(target: "shaken::server", reason = %r.id, detail = %r.detail, "verification did not pass");
            body.reasoncode = Some(r.code);
            body.reasontext = Some(r.text);
            body.reasondesc = Some(r.detail);
            // Beyond ATIS-1000082: the stable reason id every other surface
            // reports (`reason.id` in the CLI's JSON, the C ABI's
            // shaken_result_reason_id), for scripts and dashboards.
            body.reasonid = Some(r.id.clone());
            Outcome {
                verstat: f.error.verstat(),
                reason_code: Some(r.code),
                reason_id: Some(r.id),
            }
        }
        Ok(v) => {
            body.attest = v.attestation().map(|a| a.as_str());
            verified = Some(Origid(
                v.claims()
                    .origid
                    .as_deref()
                    .unwrap_or("-")
                    .chars()
                    .take(64)
                    .collect(),
                v.attestation(),
            ));
            Outcome {
                verstat: Verstat::Passed,
                reason_code: None,
                reason_id: None,
            }
        }
    };
    Ok(respond(state, body, outcome, catalogue_id, verified))
}

/// A verification request with the diverted-call extension: every PASSporT,
/// the chain; the answer adds `diversion` (the same object as the CLI's).
async fn verify_diverted(
    state: &AppState,
    vs: &crate::StiVs,
    request: &VerifyRequest<'_>,
    ext: &crate::div::VerifyExtension,
    ctx: &CallContext,
) -> Result<Response, RequestError> {
    let config = state.config();
    let values: Vec<&str> = std::iter::once(request.identity.as_ref())
        .chain(ext.identities.iter().map(String::as_str))
        .collect();
    let target = ext.target(&vs.verifier().policy().tn);
    let budget = config.request_timeout.mul_f32(0.8);
    let Ok(r) =
        tokio::time::timeout(budget, vs.verify_identities(&values, ctx, target.as_ref())).await
    else {
        let e = VerifyError::CertUnavailable {
            detail: format!(
                "x5u certificates were not obtained within {} ms",
                budget.as_millis()
            ),
            cause: "fetch-timeout",
        };
        let r = e.reason();
        let mut body = Map::new();
        body.insert("reasoncode".into(), r.code.into());
        body.insert("reasontext".into(), r.text.into());
        body.insert("reasondesc".into(), r.detail.into());
        body.insert("reasonid".into(), r.id.clone().into());
        let outcome = Outcome {
            verstat: e.verstat(),
            reason_code: Some(r.code),
            reason_id: Some(r.id),
        };
        return Ok(respond_map(
            state,
            body,
            outcome,
            Some("fetch-timeout"),
            None,
        ));
    };
    let overall = &r.overall;
    let mut body = Map::new();
    let outcome = match &overall.reason {
        Some(reason) => {
            body.insert("reasoncode".into(), reason.code.into());
            body.insert("reasontext".into(), reason.text.clone().into());
            body.insert("reasondesc".into(), reason.detail.clone().into());
            body.insert("reasonid".into(), reason.id.clone().into());
            Outcome {
                verstat: overall.verstat,
                reason_code: Some(reason.code),
                reason_id: Some(reason.id.clone()),
            }
        }
        None => {
            if let Some(a) = overall.attest {
                body.insert("attest".into(), a.as_str().into());
            }
            Outcome {
                verstat: overall.verstat,
                reason_code: None,
                reason_id: None,
            }
        }
    };
    if let Some(d) = &r.diversion {
        body.insert(
            "diversion".into(),
            serde_json::to_value(d).map_err(|e| RequestError::Internal {
                detail: format!("the diversion could not be serialised: {e}"),
            })?,
        );
    }
    let verified = overall.passed().then(|| {
        Origid(
            overall
                .origid
                .as_deref()
                .unwrap_or("-")
                .chars()
                .take(64)
                .collect(),
            overall.attest,
        )
    });
    Ok(respond_map(state, body, outcome, None, verified))
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

    /// The typed answer writes the bytes the `serde_json::Map` it replaced
    /// wrote, member for member.
    #[test]
    fn answer_body_bytes_are_those_of_the_map() {
        let typed =
            |b: AnswerBody| serde_json::to_string(&VerificationAnswer { response: b }).unwrap();
        let map = |pairs: Vec<(&str, Value)>| {
            let m: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            json!({"verificationResponse": m}).to_string()
        };
        let passed = AnswerBody {
            attest: Some("A"),
            verstat: "TN-Validation-Passed",
            ..AnswerBody::default()
        };
        assert_eq!(
            typed(passed),
            map(vec![
                ("verstat", "TN-Validation-Passed".into()),
                ("attest", "A".into())
            ])
        );
        let failed = AnswerBody {
            rcd: Some(json!({"nam": "Alice \"A\" Example"})),
            reasoncode: Some(438),
            reasontext: Some("Invalid Identity Header".into()),
            reasondesc: Some("signature does not verify: \u{1}\n".into()),
            reasonid: Some("signature-invalid".into()),
            verstat: "TN-Validation-Failed",
            ..AnswerBody::default()
        };
        assert_eq!(
            typed(failed),
            map(vec![
                ("rcd", json!({"nam": "Alice \"A\" Example"})),
                ("reasoncode", 438.into()),
                ("reasontext", "Invalid Identity Header".into()),
                ("reasondesc", "signature does not verify: \u{1}\n".into()),
                ("reasonid", "signature-invalid".into()),
                ("verstat", "TN-Validation-Failed".into()),
            ])
        );
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
        // Several Accept lines count together, and the refusal echoes them all.
        let mut h = HeaderMap::new();
        h.append(header::ACCEPT, HeaderValue::from_static("text/html"));
        h.append(header::ACCEPT, HeaderValue::from_static("image/png"));
        assert_eq!(
            check_accept(&h).unwrap_err(),
            RequestError::NotAcceptable("text/html, image/png".into())
        );
        h.append(header::ACCEPT, HeaderValue::from_static("APPLICATION/*"));
        assert!(check_accept(&h).is_ok());
    }
}
