//! `shaken serve --ui`: a page for people (robocall investigators, NOC
//! staff) and the two JSON endpoints it calls.
//!
//! - `GET /`: one self-contained page (HTML, CSS and script compiled in,
//!   nothing loaded from anywhere else; the Content-Security-Policy forbids
//!   it). Open to anyone who can connect when the UI is on.
//! - `POST /ui/v1/inspect` (JSON): an Identity header value or a whole SIP
//!   request → the decoded PASSporTs (header, claims), the verdict (the
//!   report of `verify --format json`, or of `verify --sip`), a hint of what
//!   to do, the certificate chain and its ATIS-1000080 lint.
//! - `POST /ui/v1/capture` (the bytes of a pcap or pcapng file) → the same
//!   for every INVITE of the capture, verified at its capture time, as
//!   `verify --pcap` does.
//!
//! The endpoints are behind the service's admission like the ATIS API
//! (`--allow-from`, TLS, API keys); their request errors are the ATIS
//! `requestError` bodies. The checks use the service's verifier (anchors,
//! CRLs, x5u cache, policy) with replay detection of their own
//! ([`StiVs::with_own_replay`]): nothing the page checks is recorded as a
//! call, so a ticket's link gives the same verdict every time it is opened
//! and looking at a live PASSporT never fails its call as a replay.

use super::api::{read_body_bounded, read_json, request_timeout_budget};
use super::error::RequestError;
use super::AppState;
use crate::capture::{CaptureLimits, CaptureReader};
use crate::cert::lint::{lint_chain_at, role_of, Validity};
use crate::cert::{crl_distribution_points, Certificate, TnEntry};
use crate::passport::{dangerous, Token};
use crate::sip::SipRequest;
use crate::sip_verify::SipReport;
use crate::sti::StiVs;
use crate::tn::TelephoneNumber;
use crate::verify::{self, CallContext, Failure, PartyId, VerifiedPassport, VerifyError};
use crate::Report;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// Path of the page.
pub const PAGE_PATH: &str = "/";
/// Path of the inspection endpoint.
pub const INSPECT_PATH: &str = "/ui/v1/inspect";
/// Path of the capture endpoint.
pub const CAPTURE_PATH: &str = "/ui/v1/capture";
/// Largest capture accepted by [`CAPTURE_PATH`]: 8 MiB (a few thousand
/// calls; a longer capture is for `verify --pcap`).
pub const MAX_CAPTURE_BODY: usize = 8 * 1024 * 1024;
/// Most calls of a capture reported; the rest are counted
/// (`truncated: true`).
pub const MAX_CAPTURE_CALLS: usize = 200;
/// Most page requests handled at once (more wait in line, within the
/// request timeout); the ATIS API has its own bound, so people looking at
/// captures never take an SBC's slot.
pub const MAX_CONCURRENT: usize = 4;
/// Retransmissions of an INVITE (same Call-ID and CSeq) within this many
/// seconds are one call (RFC 3261 Timer B is 32 s), as in `verify --pcap`.
const RETRANSMIT_WINDOW: i64 = 64;
/// Fraction of the request timeout a check may wait for an x5u fetch.
const FETCH_SHARE: f64 = 0.8;

const PAGE_HTML: &str = include_str!("ui/page.html");
const PAGE_CSS: &str = include_str!("ui/page.css");
const PAGE_JS: &str = include_str!("ui/page.js");

/// The page with its style and script inlined, and the policy that allows
/// exactly those two (by hash) and requests to this origin.
struct Page {
    html: String,
    csp: String,
}

fn csp_hash(text: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

static PAGE: LazyLock<Page> = LazyLock::new(|| {
    let html = PAGE_HTML
        .replace("{{VERSION}}", env!("CARGO_PKG_VERSION"))
        .replace("/*STYLE*/", PAGE_CSS)
        .replace("/*SCRIPT*/", PAGE_JS);
    let csp = format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self' data:; \
         form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
        csp_hash(PAGE_JS),
        csp_hash(PAGE_CSS)
    );
    Page { html, csp }
});

/// Headers every UI answer carries: no sniffing, no framing, no caching,
/// no referrer.
fn harden(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// `GET /`: the page.
pub(super) async fn page() -> Response {
    let page = &*PAGE;
    let mut resp = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.html.clone(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&page.csp) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    harden(&mut resp);
    resp
}

fn json_response(status: StatusCode, v: Value) -> Response {
    let mut resp = (status, Json(v)).into_response();
    harden(&mut resp);
    resp
}

fn error_response(e: RequestError) -> Response {
    let mut resp = e.into_response();
    harden(&mut resp);
    resp
}

// ------------------------------------------------------------------ hints

/// What a person can do about a failure, by its stable reason id: a
/// sentence for the page (the library's `detail` says what was wrong; this
/// says where to look next).
pub fn hint(id: &str) -> Option<&'static str> {
    Some(match id {
        "no-identity" => "The call carries no Identity header: it is unsigned. Ask the originating provider why they do not sign, or whether a transit provider stripped the header.",
        "identity-malformed" | "token-malformed" | "header-invalid" | "claims-invalid" => {
            "The value is not a readable Identity header or PASSporT. Check that the whole header was copied (no cut line, no added spaces); if it was, the signer's software is broken: report it to them."
        }
        "compact-form" => "A compact-form PASSporT carries only the signature; paste the whole INVITE so the header and claims can be rebuilt, or ask for the full form.",
        "ppt-unsupported" | "ppt-mismatch" => "This is not a SHAKEN PASSporT (or its ppt parameter disagrees with its header). Only SHAKEN PASSporTs decide the verdict.",
        "info-missing" | "info-invalid" | "x5u-info-mismatch" | "header-param-missing" => {
            "The header does not say properly where the signer's certificate is (info / x5u). The signer must fix its Identity header."
        }
        "header-key-forbidden" | "typ-invalid" | "alg-unsupported" => "The PASSporT header breaks the SHAKEN profile (ATIS-1000074). The signer must fix its software.",
        "claim-missing" | "attest-invalid" | "claim-not-tn" | "tn-invalid" => {
            "A SHAKEN claim is missing or not usable (orig, dest, attest, origid, iat). The signer must fix its claims."
        }
        "orig-mismatch" => "The calling number in the call is not the one that was signed: the number may be spoofed, or changed in transit. Compare the PASSporT's orig with the From / P-Asserted-Identity, and find who changed it.",
        "dest-mismatch" => "The called number is not among the signed destinations: the call was redirected or re-targeted after signing (a diverting provider should add a div PASSporT).",
        "iat-stale" | "iat-future" | "date-mismatch" | "request-time-stale" => {
            "The PASSporT is too old or too far in the future for this verifier. A valid signature checked later (a ticket, a capture) fails only for freshness: compare iat with the call's time; if the clocks agree, the PASSporT was reused."
        }
        "cert-unavailable" => "The signer's certificate could not be fetched from the x5u URL. Try the URL yourself; if it stays down, tell the signer (their STI-CR is failing).",
        "cert-untrusted" => "The certificate does not chain to a trusted STI-PA root, or it is expired or revoked. Look at the chain and its lint below; the signer must get a certificate from an approved STI-CA.",
        "iat-outside-cert-validity" => "The PASSporT was signed when the certificate was not valid. The signer must renew its certificate.",
        "tn-not-authorized" => "The certificate does not cover the calling number (TNAuthList). For an SPC certificate this is a policy question; for a number certificate the signer signed for a number it does not hold.",
        "claim-constraint-violated" => "The certificate forbids these claims (JWT Claim Constraints, RFC 8226): the signer used a certificate outside its limits.",
        "signature-invalid" => "The signature does not match: the PASSporT was altered after signing, or signed with another key than the certificate's. Suspect tampering or a re-used PASSporT.",
        "replay" => "This PASSporT was already seen on another call: a replayed (copied) signature.",
        "replay-unavailable" => "The shared replay store did not answer: this is the verifier's problem, not the call's. Try again.",
        "no-trust-anchors" => "This service has no trust anchors (STI-PA roots) configured: nothing can pass. Its operator must install them.",
        "sip-malformed" => "This is not a SIP request this tool can read. Paste the whole INVITE, from the request line to the blank line after the headers.",
        "fetch-scheme-not-allowed" | "fetch-port-not-allowed" | "fetch-private-address" => {
            "The x5u URL is one this service refuses to fetch (scheme, port or private address). In a lab its operator can allow it; on a carrier network the signer must use a public https URL."
        }
        _ => return None,
    })
}

fn hint_of(report: &Report) -> Option<&'static str> {
    report.reason.as_ref().and_then(|r| hint(&r.id))
}

// ------------------------------------------------------------------ decoding

/// Unix seconds as RFC 3339 UTC (the number itself when out of range).
fn utc(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// The Identity value decoded without checking anything (what `shaken
/// decode` shows), or why it cannot be.
fn decode(value: &str, limits: &crate::Limits) -> Map<String, Value> {
    let mut out = Map::new();
    let identity = match verify::parse_identity_or_token(value, limits) {
        Ok(i) => i,
        Err(e) => {
            out.insert("decode_error".into(), e.to_string().into());
            return out;
        }
    };
    out.insert(
        "identity".into(),
        json!({
            "info": identity.info,
            "alg": identity.alg,
            "ppt": identity.ppt,
            "params": identity.params.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
        }),
    );
    match Token::parse(&identity.token, limits) {
        Err(e) => {
            out.insert("decode_error".into(), e.to_string().into());
        }
        Ok(Token::Compact { signature }) => {
            out.insert("form".into(), "compact".into());
            out.insert("signature".into(), crate::b64::encode(&signature).into());
        }
        Ok(Token::Full(p)) => {
            out.insert("form".into(), "full".into());
            out.insert("header".into(), p.header_json().clone());
            let claims = dangerous::payload_json(&p);
            if let Some(iat) = claims.get("iat").and_then(Value::as_i64) {
                out.insert("iat_utc".into(), utc(iat).into());
            }
            out.insert("claims".into(), claims.clone());
            out.insert("signature".into(), crate::b64::encode(p.signature()).into());
        }
    }
    out
}

fn tn_entry(e: &TnEntry) -> Value {
    match e {
        TnEntry::Spc(s) => json!({"spc": s}),
        TnEntry::One(t) => json!({"tn": t}),
        TnEntry::Range { start, count } => json!({"range": {"start": start, "count": count}}),
    }
}

fn cert_json(chain: &[Certificate], index: usize, cert: &Certificate, now: i64) -> Value {
    use sha2::Digest;
    let fingerprint: String = sha2::Sha256::digest(cert.der())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    json!({
        "index": index,
        "role": role_of(chain, index).as_str(),
        "subject": cert.subject(),
        "issuer": cert.issuer(),
        "serial": cert.serial_hex(),
        "not_before": utc(cert.not_before()),
        "not_after": utc(cert.not_after()),
        "validity": Validity::of(cert, now).as_str(),
        "key": cert.key_description(),
        "is_ca": cert.is_ca(),
        "tn_auth_list": cert.tn_auth_list().map(|l| l.0.iter().map(tn_entry).collect::<Vec<_>>()),
        "tn_auth_list_error": cert.tn_auth_list_error(),
        "crl_distribution_points": crl_distribution_points(cert).into_iter().map(|(url, _)| url).collect::<Vec<_>>(),
        "sha256": fingerprint,
    })
}

/// The chain the verifier used for `x5u`: the pinned one, or the one in
/// the x5u cache (a check that fetched it left it there). Never fetches.
fn chain_for(vs: &StiVs, x5u: Option<&str>) -> Option<(Arc<Vec<Certificate>>, &'static str)> {
    if let Some(c) = vs.pinned_chain() {
        return Some((c.clone(), "pinned"));
    }
    let url = x5u?;
    vs.online()?
        .cache()
        .get_cached(url)
        .map(|c| (c, "x5u-cache"))
}

/// One PASSporT for the page: decoded, its report and hint, its chain and
/// the chain's lint.
fn passport_view(
    vs: &StiVs,
    index: usize,
    value: &str,
    report: Value,
    r: &Report,
    now: i64,
) -> Value {
    let mut out = decode(value, vs.verifier().limits());
    out.insert("index".into(), index.into());
    out.insert("report".into(), report);
    out.insert("hint".into(), hint_of(r).into());
    let x5u = r.x5u.clone().or_else(|| {
        out.get("identity")
            .and_then(|i| i.get("info"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    // A value that does not decode names no certificate: no chain is shown
    // for it (not even a pinned one).
    let readable = !out.contains_key("decode_error");
    match chain_for(vs, x5u.as_deref()).filter(|_| readable) {
        Some((chain, source)) => {
            let certs: Vec<Value> = chain
                .iter()
                .enumerate()
                .map(|(i, c)| cert_json(&chain, i, c, now))
                .collect();
            out.insert("chain".into(), certs.into());
            out.insert("chain_source".into(), source.into());
            let lint = serde_json::to_value(lint_chain_at(&chain, now)).unwrap_or(Value::Null);
            out.insert("lint".into(), lint);
        }
        None => {
            out.insert("chain".into(), Value::Null);
            out.insert("chain_source".into(), Value::Null);
            out.insert("lint".into(), Value::Array(vec![]));
        }
    }
    Value::Object(out)
}

// ------------------------------------------------------------------ checking

/// One Identity value for a call, as the verification endpoint checks it:
/// no network when the chain is cached, else a fetch bounded by the
/// request budget.
async fn check_identity(
    vs: &StiVs,
    value: &str,
    ctx: &CallContext,
    budget: std::time::Duration,
) -> Result<VerifiedPassport, Box<Failure>> {
    let id = vs.parse_identity(value)?;
    if let Some(r) = vs.verify_cached(&id, ctx) {
        return r;
    }
    match tokio::time::timeout(budget, vs.verify_header(&id, ctx)).await {
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

/// A whole SIP request, with the same bound on fetching.
async fn check_sip(
    vs: &StiVs,
    req: &SipRequest,
    now: i64,
    budget: std::time::Duration,
) -> SipReport {
    match tokio::time::timeout(budget, vs.verify_sip_request(req, now)).await {
        Ok(r) => r,
        // Nothing was fetched in time: what is cached answers, the rest
        // says the certificate was unavailable.
        Err(_) => crate::sip_verify::verify_request_with(vs.verifier(), req, now, |id, ctx| {
            vs.verify_cached(id, ctx).unwrap_or_else(|| {
                Err(Box::new(Failure::from(VerifyError::CertUnavailable {
                    detail: format!(
                        "x5u certificate was not obtained within {} ms",
                        budget.as_millis()
                    ),
                    cause: "fetch-timeout",
                })))
            })
        }),
    }
}

/// The SIP view: the call's report, its hint, and every Identity header
/// decoded with its own report.
fn sip_view(vs: &StiVs, req: &SipRequest, report: &SipReport, now: i64) -> Value {
    let values = req.identity_headers();
    let passports: Vec<Value> = report
        .passports
        .iter()
        .map(|p| {
            let value = values.get(p.index).copied().unwrap_or("");
            let rj = serde_json::to_value(p).unwrap_or(Value::Null);
            passport_view(vs, p.index, value, rj, &p.report, now)
        })
        .collect();
    json!({
        "kind": "sip",
        "verdict": serde_json::to_value(report).unwrap_or(Value::Null),
        "hint": hint_of(&report.overall),
        "passports": passports,
    })
}

/// Whether pasted text is a SIP request rather than an Identity value: its
/// first line (or the second, after a log prefix line) ends in `SIP/2.0`.
fn looks_like_sip(text: &str) -> bool {
    text.trim_start()
        .lines()
        .take(2)
        .any(|l| l.trim_end().ends_with("SIP/2.0") && l.contains(' '))
}

fn invalid(name: &str, reason: impl Into<String>) -> RequestError {
    RequestError::InvalidValue {
        name: name.to_owned(),
        reason: reason.into(),
    }
}

/// The party a person typed for orig / dest (a number, or a URI).
fn party(s: &str, name: &str, tn: &crate::tn::TnPolicy) -> Result<PartyId, RequestError> {
    if s.contains(':') {
        return Ok(PartyId::from_uri(s, tn));
    }
    TelephoneNumber::parse(s, tn)
        .map(PartyId::Tn)
        .map_err(|e| invalid(name, e.to_string()))
}

/// The largest inspection body: a SIP message at the verifier's bound,
/// JSON-escaped (a CRLF is four characters), and the members around it.
fn inspect_cap(limits: &crate::Limits) -> usize {
    limits
        .max_sip_message
        .max(limits.max_identity_header_len)
        .saturating_mul(2)
        .saturating_add(4096)
}

/// `POST /ui/v1/inspect`.
pub(super) async fn inspect(State(state): State<AppState>, req: Request) -> Response {
    match inspect_inner(&state, req).await {
        Ok(v) => {
            // The verdict goes to the request log (not to the verification
            // metrics: a look is not a call).
            let outcome = outcome_of(&v["verdict"]);
            let mut resp = json_response(StatusCode::OK, v);
            if let Some(o) = outcome {
                resp.extensions_mut().insert(o);
            }
            resp
        }
        Err(e) => error_response(e),
    }
}

fn outcome_of(verdict: &Value) -> Option<super::api::Outcome> {
    let verstat = serde_json::from_value(verdict.get("verstat")?.clone()).ok()?;
    let reason = verdict.get("reason");
    Some(super::api::Outcome {
        verstat,
        reason_code: reason
            .and_then(|r| r.get("code"))
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok()),
        reason_id: reason
            .and_then(|r| r.get("id"))
            .and_then(Value::as_str)
            .map(|s| s.chars().take(64).collect()),
    })
}

async fn inspect_inner(state: &AppState, req: Request) -> Result<Value, RequestError> {
    let services = state.services();
    let limits = services.vs.verifier().limits().clone();
    let body = read_json(req, inspect_cap(&limits)).await?;
    let v: Value = crate::json::parse_strict(&body, limits.max_json_depth)
        .map_err(|e| RequestError::Unparsable(e.to_string()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| RequestError::Unparsable("the body is not a JSON object".into()))?;
    for k in obj.keys() {
        if !matches!(k.as_str(), "input" | "kind" | "orig" | "dest") {
            return Err(invalid(
                k,
                "unknown member (expected input, kind, orig, dest)",
            ));
        }
    }
    let input = match obj.get("input") {
        None | Some(Value::Null) => return Err(RequestError::MissingParameter("input".into())),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(invalid("input", "must be a string")),
    };
    if input.trim().is_empty() {
        return Err(invalid(
            "input",
            "is empty: paste an Identity header value or a whole SIP INVITE",
        ));
    }
    let kind = match obj.get("kind").map(|k| k.as_str()) {
        None | Some(Some("auto")) => {
            if looks_like_sip(input) {
                "sip"
            } else {
                "identity"
            }
        }
        Some(Some("identity")) => "identity",
        Some(Some("sip")) => "sip",
        Some(_) => return Err(invalid("kind", "expected auto, identity or sip")),
    };
    let tn = &services.vs.verifier().policy().tn;
    let orig = match obj.get("orig") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(party(s.trim(), "orig", tn)?),
        Some(_) => return Err(invalid("orig", "must be a string")),
    };
    let mut dest = Vec::new();
    match obj.get("dest") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.len() <= services.vs.request_policy().max_dest_entries => {
            for d in a {
                match d.as_str() {
                    Some(s) if s.trim().is_empty() => {}
                    Some(s) => dest.push(party(s.trim(), "dest", tn)?),
                    None => return Err(invalid("dest", "must be an array of strings")),
                }
            }
        }
        Some(Value::Array(_)) => return Err(invalid("dest", "too many entries")),
        Some(_) => return Err(invalid("dest", "must be an array of strings")),
    }
    if kind == "sip" && (orig.is_some() || !dest.is_empty()) {
        return Err(invalid(
            "orig",
            "orig and dest are read from the SIP request itself; leave them empty",
        ));
    }
    let now = state.config().clock.now();
    let budget = request_timeout_budget(state, FETCH_SHARE);
    // Checked with the service's settings, but recorded nowhere.
    let vs = services.vs.with_own_replay(None);
    let mut out = if kind == "sip" {
        let req = match SipRequest::parse(input.as_bytes(), &limits) {
            Ok(r) => r,
            Err(e) => {
                let report = crate::sip_verify::malformed_request_report(&e);
                return Ok(json!({
                    "kind": "sip",
                    "verdict": serde_json::to_value(&report).unwrap_or(Value::Null),
                    "hint": hint_of(&report.overall),
                    "error": format!("not a SIP request this tool can read: {e}"),
                    "passports": [],
                    "checked_at": now,
                    "checked_at_utc": utc(now),
                }));
            }
        };
        let report = check_sip(&vs, &req, now, budget).await;
        sip_view(&vs, &req, &report, now)
    } else {
        let value = crate::identity::unpaste(input).into_owned();
        let mut ctx = CallContext::at(now);
        ctx.orig.extend(orig);
        ctx.dest = dest;
        let result = check_identity(&vs, &value, &ctx, budget).await;
        let report = verify::report(&result);
        let rj = serde_json::to_value(&report).unwrap_or(Value::Null);
        let p = passport_view(&vs, 0, &value, rj.clone(), &report, now);
        json!({
            "kind": "identity",
            "verdict": rj,
            "hint": hint_of(&report),
            "passports": [p],
        })
    };
    if let Some(o) = out.as_object_mut() {
        o.insert("checked_at".into(), now.into());
        o.insert("checked_at_utc".into(), utc(now).into());
    }
    Ok(out)
}

/// The media types a capture may be sent as. None of them is one a
/// cross-site form can send without asking first (CORS "simple" requests
/// are `text/plain`, `multipart/form-data` and form-urlencoded), and the
/// service answers no CORS preflight: another site cannot make a browser
/// post captures here.
pub const CAPTURE_MEDIA_TYPES: [&str; 3] = [
    "application/vnd.tcpdump.pcap",
    "application/x-pcapng",
    "application/octet-stream",
];

fn check_capture_type(headers: &axum::http::HeaderMap) -> Result<(), RequestError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if CAPTURE_MEDIA_TYPES
        .iter()
        .any(|m| media.eq_ignore_ascii_case(m))
    {
        Ok(())
    } else {
        Err(invalid(
            "Content-Type",
            format!(
                "{:?} is not a capture type (expected {})",
                ct.chars().take(100).collect::<String>(),
                CAPTURE_MEDIA_TYPES.join(", ")
            ),
        ))
    }
}

/// `POST /ui/v1/capture`.
pub(super) async fn capture(State(state): State<AppState>, req: Request) -> Response {
    match capture_inner(&state, req).await {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(e) => error_response(e),
    }
}

async fn capture_inner(state: &AppState, req: Request) -> Result<Value, RequestError> {
    let services = state.services();
    let limits = services.vs.verifier().limits().clone();
    check_capture_type(req.headers())?;
    let bytes = read_body_bounded(req, MAX_CAPTURE_BODY).await?;
    let reader = CaptureReader::new(std::io::Cursor::new(bytes), CaptureLimits::from(&limits))
        .map_err(|e| invalid("body", e.to_string()))?;
    let fixed = match state.config().clock {
        super::ServerClock::Fixed(t) => Some(t),
        _ => None,
    };
    // Replay detection of its own, as `verify --pcap` has: a PASSporT on
    // two calls of this capture is a replay; the service's store is not
    // touched.
    let store = Arc::new(services.vs.verifier().default_replay_store());
    let vs = services.vs.with_own_replay(Some(store));
    let started = std::time::Instant::now();
    let total = request_timeout_budget(state, FETCH_SHARE);
    let mut calls = Vec::new();
    let mut unreadable = Vec::new();
    let mut seen: HashMap<String, i64> = HashMap::new();
    let mut truncated = 0u64;
    let mut capture_error = None;
    let mut reader = reader;
    for item in reader.by_ref() {
        let msg = match item {
            Ok(m) => m,
            Err(e) => {
                capture_error = Some(e.to_string());
                break;
            }
        };
        let t = i64::try_from(msg.time.as_secs()).unwrap_or(i64::MAX);
        let now = fixed.unwrap_or(t);
        let req = match SipRequest::parse(&msg.bytes, &limits) {
            Ok(r) => r,
            Err(e) => {
                if unreadable.len() < MAX_CAPTURE_CALLS {
                    unreadable.push(json!({
                        "packet": msg.packet,
                        "time": utc(t),
                        "src": msg.src.to_string(),
                        "dst": msg.dst.to_string(),
                        "error": format!("unreadable INVITE: {e}"),
                    }));
                }
                continue;
            }
        };
        if let Some(call_id) = req.call_id() {
            let cseq = req.header_values("CSeq").first().copied().unwrap_or("");
            let key = format!("{call_id}\u{0}{cseq}");
            if seen
                .get(&key)
                .is_some_and(|first| t.saturating_sub(*first).abs() <= RETRANSMIT_WINDOW)
            {
                continue;
            }
            if seen.len() < 4 * MAX_CAPTURE_CALLS {
                seen.insert(key, t);
            }
        }
        if calls.len() >= MAX_CAPTURE_CALLS {
            truncated += 1;
            continue;
        }
        let budget = total.saturating_sub(started.elapsed());
        let report = check_sip(&vs, &req, now, budget).await;
        let mut view = sip_view(&vs, &req, &report, now);
        if let Some(o) = view.as_object_mut() {
            o.insert("packet".into(), msg.packet.into());
            o.insert("time".into(), utc(t).into());
            o.insert("src".into(), msg.src.to_string().into());
            o.insert("dst".into(), msg.dst.to_string().into());
            o.insert(
                "transport".into(),
                serde_json::to_value(msg.transport).unwrap_or(Value::Null),
            );
        }
        calls.push(view);
    }
    let s = reader.stats();
    Ok(json!({
        "calls": calls,
        "unreadable": unreadable,
        "truncated": truncated,
        "capture_error": capture_error,
        "stats": {
            "packets": s.packets,
            "sip_messages": s.sip_messages,
            "invites": s.invites,
            "undecodable": s.undecodable,
            "unsupported_link": s.unsupported_link,
            "tcp_bytes_dropped": s.tcp_bytes_dropped,
        },
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn sip_is_told_from_identity_values() {
        assert!(looks_like_sip(
            "INVITE sip:+12125550143@example.net SIP/2.0\r\nFrom: x\r\n"
        ));
        assert!(looks_like_sip(
            "2026-01-01 12:00:00 recv from 10.0.0.1\nINVITE sip:a@b SIP/2.0\n"
        ));
        assert!(!looks_like_sip("eyJhbGciOi.eyJ.sig;info=<https://x>"));
        assert!(!looks_like_sip(
            "Identity: eyJ..sig;info=<https://x/SIP/2.0>"
        ));
    }

    #[test]
    fn every_verification_failure_has_a_hint_for_people_not_for_flags() {
        // The ids of `VerifyError` (verify/error.rs), plus the SIP and
        // service ones the page meets.
        for id in [
            "no-identity",
            "identity-malformed",
            "token-malformed",
            "compact-form",
            "ppt-unsupported",
            "ppt-mismatch",
            "info-missing",
            "info-invalid",
            "header-param-missing",
            "header-key-forbidden",
            "header-invalid",
            "x5u-info-mismatch",
            "typ-invalid",
            "alg-unsupported",
            "claims-invalid",
            "claim-missing",
            "attest-invalid",
            "claim-not-tn",
            "tn-invalid",
            "orig-mismatch",
            "dest-mismatch",
            "iat-stale",
            "iat-future",
            "date-mismatch",
            "cert-unavailable",
            "cert-untrusted",
            "iat-outside-cert-validity",
            "tn-not-authorized",
            "claim-constraint-violated",
            "signature-invalid",
            "replay",
            "replay-unavailable",
            "sip-malformed",
            "no-trust-anchors",
            "request-time-stale",
        ] {
            let h = hint(id).unwrap_or_else(|| panic!("no hint for {id}"));
            assert!(!h.contains("--") && !h.contains("SHAKEN_"), "{id}: {h}");
        }
        assert_eq!(hint("not-a-reason"), None);
    }

    #[test]
    fn the_policy_allows_exactly_the_inlined_style_and_script() {
        let page = &*PAGE;
        assert!(page.html.contains(PAGE_JS) && page.html.contains(PAGE_CSS));
        assert!(!page.html.contains("/*SCRIPT*/") && !page.html.contains("{{VERSION}}"));
        assert!(page.csp.contains(&csp_hash(PAGE_JS)));
        assert!(page.csp.contains("default-src 'none'"));
        assert!(page.csp.contains("frame-ancestors 'none'"));
        // Nothing on the page names another origin.
        for needle in [
            "http://",
            "https://",
            "src=\"//",
            "href=\"//",
            "@import",
            "url(",
        ] {
            assert!(!page.html.contains(needle), "the page names {needle}");
        }
        // No HTML built from strings in the script.
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!PAGE_JS.contains(sink), "page.js uses {sink}");
        }
    }

    #[test]
    fn inspect_cap_fits_an_escaped_invite() {
        let l = crate::Limits::default();
        assert!(inspect_cap(&l) >= 2 * l.max_sip_message);
    }
}
