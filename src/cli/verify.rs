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
    // A div-o value (RFC 8946 §5) carries its chain in opt: verify every
    // PASSporT of it; the chain must end at --dest. (A bare div has no
    // chain to check: it is reported as a PASSporT type this command does
    // not verify alone; `--sip` verifies it with the rest of the call.)
    if let IdentityInput::Value(v) = &value {
        if let Some(ppt) = declared_ppt(v, &setup.limits) {
            if ppt == shaken::div::PPT_DIV_O {
                let r = setup
                    .vs()
                    .verify_identities_blocking(&[v.as_str()], &ctx, None);
                return render_diverted(&r.overall, r.diversion.as_ref(), a.format);
            }
        }
    }
    let result = match value {
        IdentityInput::Value(v) => setup.verify_value(&v, &ctx),
        IdentityInput::Refused(e) => Err(Box::new(Failure::new(VerifyError::IdentityMalformed(e)))),
    };
    let report = verify::into_report(result);
    render(&report, a.format)?;
    // The library's detail is neutral; the flag that fixes it goes to stderr.
    super::hints::print_for_report(&report);
    super::hints::print_for_rcd(&report, a.fetch_rcd);
    Ok(if report.passed() { EXIT_OK } else { EXIT_FAIL })
}

/// The type a value declares (Identity `ppt`, else the PASSporT header's).
fn declared_ppt(value: &str, limits: &Limits) -> Option<String> {
    let identity = verify::parse_identity_or_token(value, limits).ok()?;
    if identity.ppt.is_some() {
        return identity.ppt;
    }
    match Token::parse(&identity.token, limits).ok()? {
        Token::Full(p) => p.header().ok()?.ppt,
        Token::Compact { .. } => None,
    }
}

/// The report of a div/div-o value: the caller-ID verdict (the nested
/// shaken PASSporT's) and the chain, as JSON (`diversion` added to the
/// report) or text (the hops after the report).
fn render_diverted(
    report: &shaken::Report,
    diversion: Option<&shaken::div::Diversion>,
    format: OutFormat,
) -> Result<i32> {
    match format {
        OutFormat::Json => {
            let mut j = serde_json::to_value(report)?;
            if let (Some(d), Some(obj)) = (diversion, j.as_object_mut()) {
                obj.insert("diversion".into(), serde_json::to_value(d)?);
            }
            writeln!(std::io::stdout().lock(), "{}", serde_json::to_string(&j)?)?;
        }
        OutFormat::Text => {
            render(report, format)?;
            if let Some(d) = diversion {
                std::io::stdout()
                    .lock()
                    .write_all(super::render::diversion_text(d).as_bytes())?;
            }
        }
    }
    super::hints::print_for_report(report);
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
