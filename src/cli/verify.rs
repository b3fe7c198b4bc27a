//! `shaken verify` and `shaken decode`.

use super::args::{DecodeArgs, OutFormat, VerifyArgs};
use super::clock::{now, rfc3339};
use super::input::{identity_input, identity_value, IdentityInput};
use super::render::render;
use super::setup::build_setup;
use super::{EXIT_FAIL, EXIT_OK};
use anyhow::{Context, Result};
use shaken::passport::ClaimsPolicy;
use shaken::passport::{dangerous, Token};
use shaken::tn::TelephoneNumber;
use shaken::verify::{self, CallContext, Failure, PartyId, VerifyError};
use shaken::Limits;
use std::io::Write;

/// `shaken verify VALUE|-`: verify one Identity header value.
pub fn run(a: VerifyArgs) -> Result<i32> {
    let setup = build_setup(&a, false)?;
    let value = identity_input(a.value.as_deref(), setup.limits.max_identity_header_len)?;
    let mut ctx = CallContext::at(setup.now.unwrap_or_else(now));
    if let Some(o) = &a.orig {
        ctx.orig.push(PartyId::Tn(
            TelephoneNumber::parse(o, &setup.tn_policy).with_context(|| "--orig")?,
        ));
    }
    for d in &a.dest {
        ctx.dest.push(PartyId::Tn(
            TelephoneNumber::parse(d, &setup.tn_policy).with_context(|| "--dest")?,
        ));
    }
    let result = match value {
        IdentityInput::Value(v) => setup.verify_value(&v, &ctx),
        IdentityInput::Refused(e) => Err(Box::new(Failure::new(VerifyError::IdentityMalformed(e)))),
    };
    let report = verify::report(&result);
    render(&report, a.format)?;
    // The library's detail is neutral; the flag that fixes it goes to stderr.
    super::hints::print_for_report(&report);
    super::hints::print_for_rcd(&report, a.fetch_rcd);
    Ok(if report.passed() { EXIT_OK } else { EXIT_FAIL })
}

pub fn decode(a: DecodeArgs) -> Result<i32> {
    let limits = Limits::default();
    let value = identity_value(a.value.as_deref(), limits.max_identity_header_len * 2)?;
    let identity = verify::parse_identity_or_token(&value, &limits).context("decoding")?;
    let mut out = serde_json::json!({
        "verified": false,
        "warning": "UNVERIFIED: decoded only; nothing was checked",
        "identity": {
            "info": identity.info,
            "alg": identity.alg,
            "ppt": identity.ppt,
            "params": identity.params.iter().map(|(k, v)| serde_json::json!({"name": k, "value": v})).collect::<Vec<_>>(),
        },
    });
    match Token::parse(&identity.token, &limits).context("decoding the PASSporT")? {
        Token::Compact { signature } => {
            out["form"] = "compact".into();
            out["signature"] = shaken::b64::encode(&signature).into();
        }
        Token::Full(p) => {
            out["form"] = "full".into();
            out["header"] = p.header_json().clone();
            out["claims"] = dangerous::payload_json(&p).clone();
            out["signature"] = shaken::b64::encode(p.signature()).into();
            if let Ok(c) = dangerous::claims(&p, &limits, &ClaimsPolicy::new(true)) {
                out["iat_utc"] = rfc3339(c.iat).into();
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    match a.format {
        OutFormat::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&out)?)?,
        OutFormat::Text => stdout.write_all(decode_text(&out).as_bytes())?,
    }
    Ok(EXIT_OK)
}

/// The decoded value for people: the warning first, then each part with its
/// JSON on one line (the JSON form is the one to parse).
fn decode_text(out: &serde_json::Value) -> String {
    let line = |k: &str, v: &serde_json::Value| {
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        format!("  {k:<10}{v}\n")
    };
    let mut s = String::from("UNVERIFIED: decoded only; nothing was checked.\n");
    let id = &out["identity"];
    for (k, v) in [
        ("info", &id["info"]),
        ("alg", &id["alg"]),
        ("ppt", &id["ppt"]),
    ] {
        if !v.is_null() {
            s.push_str(&line(k, v));
        }
    }
    if let Some(params) = id["params"].as_array().filter(|p| !p.is_empty()) {
        s.push_str(&line("params", &serde_json::Value::Array(params.clone())));
    }
    for k in ["form", "header", "claims", "iat_utc", "signature"] {
        if let Some(v) = out.get(k) {
            s.push_str(&line(k, v));
        }
    }
    s
}
