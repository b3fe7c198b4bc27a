//! `shaken demo`: the whole job on built-in data, no files, no network
//! beyond a loopback certificate server it starts itself.

use super::args::{DemoArgs, OutFormat};
use super::clock::now;
use super::{EXIT_FAIL, EXIT_OK};
use anyhow::{Context, Result};
use shaken::canonical_json as canonical;
use shaken::crypto::KeySigner;
use shaken::fetch::FetchOptions;
use shaken::identity::IdentityHeader;
use shaken::online::{chain_cache, OnlineVerifier};
use shaken::passport::{self, Attestation, Claims, Header};
use shaken::pki::{LabPki, LabPkiOptions};
use shaken::tn::TelephoneNumber;
use shaken::verify::{self, CallContext, PartyId, Verifier};
use shaken::Report;
use std::io::Write;
use std::sync::Arc;

struct Case {
    name: &'static str,
    expect: &'static str,
    identity: String,
    ctx: CallContext,
}

/// Serve `routes` (path, body) over plain HTTP on 127.0.0.1; returns the base URL.
async fn serve(routes: Vec<(&'static str, String)>) -> Result<String> {
    let mut app = axum::Router::new();
    for (path, body) in routes {
        app = app.route(
            path,
            axum::routing::get(move || {
                let body = body.clone();
                async move {
                    (
                        [
                            ("content-type", "application/pem-certificate-chain"),
                            ("cache-control", "max-age=86400"),
                        ],
                        body,
                    )
                }
            }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the demo certificate server on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

/// A port on 127.0.0.1 where nothing listens.
fn dead_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn identity(token: String, x5u: &str) -> String {
    IdentityHeader::shaken(token, x5u).to_string()
}

/// Replace the payload of a token, keeping its header and signature.
fn with_payload(token: &str, payload: &serde_json::Value) -> String {
    let mut parts = token.split('.');
    let (h, _, s) = (
        parts.next().unwrap_or(""),
        parts.next(),
        parts.next_back().unwrap_or(""),
    );
    format!(
        "{h}.{}.{s}",
        shaken::b64::encode(canonical(payload).as_bytes())
    )
}

/// Replace the header of a token, keeping its payload and signature.
fn with_header(token: &str, header: &serde_json::Value) -> String {
    let rest = token.split_once('.').map(|(_, r)| r).unwrap_or("");
    format!(
        "{}.{rest}",
        shaken::b64::encode(canonical(header).as_bytes())
    )
}

pub fn run(a: DemoArgs) -> Result<i32> {
    super::setup::runtime()?.block_on(run_async(a))
}

async fn run_async(a: DemoArgs) -> Result<i32> {
    let t = now();
    let pki = LabPki::generate(&LabPkiOptions::new(t - 86_400, t + 365 * 86_400))
        .context("building the demo PKI")?;
    let mut rogue_opts = LabPkiOptions::new(t - 86_400, t + 365 * 86_400);
    rogue_opts.spc = "666X".into();
    rogue_opts.org = "Rogue Lab".into();
    let rogue = LabPki::generate(&rogue_opts).context("building the rogue PKI")?;
    let base = serve(vec![
        ("/sp.pem", pki.leaf_chain_pem()),
        ("/rogue.pem", rogue.leaf_chain_pem()),
    ])
    .await?;
    let x5u = format!("{base}/sp.pem");
    let rogue_x5u = format!("{base}/rogue.pem");
    let dead_x5u = format!("http://127.0.0.1:{}/sp.pem", dead_port()?);

    let mut anchors = shaken::cert::TrustAnchors::new();
    anchors.add_pem(pki.root.cert_pem.as_bytes())?;
    let verifier = Arc::new(Verifier::new(anchors));
    let cache = chain_cache(FetchOptions {
        allow_http: true,
        allow_private: true,
        ..FetchOptions::default()
    })?;
    let online = OnlineVerifier::new(verifier, Arc::new(cache));

    let signer = KeySigner::from_pem(&pki.leaf.key_pem)?;
    let rogue_signer = KeySigner::from_pem(&rogue.leaf.key_pem)?;
    let orig = "12155550121";
    let dest = "12125550143";
    let tn = |s: &str| -> Result<PartyId> { Ok(PartyId::Tn(s.parse::<TelephoneNumber>()?)) };
    let ctx = CallContext {
        now: t,
        orig: vec![tn(orig)?],
        dest: vec![tn(dest)?],
        date: None,
        call_id: None,
    };
    let sign = |attest: Attestation, iat: i64, x5u: &str, s: &KeySigner| -> Result<String> {
        let claims = Claims::shaken(
            attest,
            orig,
            vec![dest.into()],
            iat,
            uuid::Uuid::new_v4().to_string(),
        );
        Ok(passport::sign(&Header::shaken(x5u), &claims, s)?)
    };

    let good = sign(Attestation::A, t, &x5u, &signer)?;
    let parsed = passport::UnverifiedPassport::parse(&good, &shaken::Limits::default())?;
    let mut altered = passport::dangerous::payload_json(&parsed).clone();
    altered["orig"]["tn"] = "12025550199".into();
    let mut downgraded = parsed.header_json().clone();
    downgraded["alg"] = "none".into();
    let mut spoofed = ctx.clone();
    spoofed.orig = vec![tn("12025550199")?];
    let mut other_caller = ctx.clone();
    other_caller.orig = vec![tn("13105550100")?];

    let cases = vec![
        Case {
            name: "A-attested call",
            expect: "TN-Validation-Passed",
            identity: identity(good.clone(), &x5u),
            ctx: ctx.clone(),
        },
        Case {
            name: "B-attested call",
            expect: "TN-Validation-Passed",
            identity: identity(sign(Attestation::B, t, &x5u, &signer)?, &x5u),
            ctx: ctx.clone(),
        },
        Case {
            name: "C-attested call",
            expect: "TN-Validation-Passed",
            identity: identity(sign(Attestation::C, t, &x5u, &signer)?, &x5u),
            ctx: ctx.clone(),
        },
        Case {
            name: "caller ID altered after signing",
            expect: "438",
            identity: identity(with_payload(&good, &altered), &x5u),
            ctx: spoofed,
        },
        Case {
            name: "signed token on a call from another number",
            expect: "438",
            identity: identity(good.clone(), &x5u),
            ctx: other_caller,
        },
        Case {
            name: "stale token replayed an hour later",
            expect: "403",
            identity: identity(sign(Attestation::A, t - 3600, &x5u, &signer)?, &x5u),
            ctx: ctx.clone(),
        },
        Case {
            name: "signed by a key no trusted CA vouches for",
            expect: "437",
            identity: identity(
                sign(Attestation::A, t, &rogue_x5u, &rogue_signer)?,
                &rogue_x5u,
            ),
            ctx: ctx.clone(),
        },
        Case {
            name: "alg downgraded to \"none\"",
            expect: "437",
            identity: identity(with_header(&good, &downgraded), &x5u),
            ctx: ctx.clone(),
        },
        Case {
            name: "certificate server down",
            expect: "436",
            identity: identity(sign(Attestation::A, t, &dead_x5u, &signer)?, &dead_x5u),
            ctx: ctx.clone(),
        },
    ];

    let mut rows: Vec<(&Case, Report, bool)> = Vec::new();
    for case in &cases {
        let limits = shaken::Limits::default();
        let result = match verify::parse_identity_or_token(&case.identity, &limits) {
            Ok(h) => online.verify(&h, &case.ctx).await,
            Err(e) => Err(Box::new(verify::Failure::new(e))),
        };
        let report = verify::report(&result);
        let got = match &report.reason {
            None => report.verstat.to_string(),
            Some(r) => r.code.to_string(),
        };
        let ok = got == case.expect;
        rows.push((case, report, ok));
    }
    let all_ok = rows.iter().all(|r| r.2);
    let mut out = std::io::stdout().lock();
    match a.format {
        OutFormat::Json => {
            for (case, report, ok) in &rows {
                let line = serde_json::json!({"scenario": case.name, "expected": case.expect, "as_expected": ok, "report": report});
                writeln!(out, "{line}")?;
            }
        }
        OutFormat::Text => {
            writeln!(out, "shaken demo: a lab PKI built in memory (trusted root -> STI-CA -> \"SHAKEN 1234\"),")?;
            writeln!(
                out,
                "certificates served from {base}, calls {orig} -> {dest} signed and verified.\n"
            )?;
            writeln!(
                out,
                "{:<44} {:<22} {:<6} reason",
                "scenario", "verstat", "attest"
            )?;
            writeln!(out, "{}", "-".repeat(110))?;
            for (case, report, ok) in &rows {
                let reason = match &report.reason {
                    None => "-".to_string(),
                    Some(r) => format!("{} {}: {}", r.code, r.text, r.id),
                };
                let attest = report.attest.map(|a| a.as_str()).unwrap_or("-");
                let mark = if *ok { "" } else { "   <-- UNEXPECTED" };
                writeln!(
                    out,
                    "{:<44} {:<22} {:<6} {reason}{mark}",
                    case.name,
                    report.verstat.as_str(),
                    attest
                )?;
            }
            writeln!(out)?;
            for (case, report, _) in &rows {
                if let Some(r) = &report.reason {
                    writeln!(out, "* {}: {}", case.name, r.detail)?;
                }
            }
            writeln!(out)?;
            if all_ok {
                writeln!(out, "Every call was classified as expected: 3 genuine calls passed, 6 attacks and faults were caught.")?;
                writeln!(out, "Next: `shaken pki init lab/` for files to sign with, `shaken verify --help` for real headers.")?;
            } else {
                writeln!(out, "Some outcomes were NOT as expected (marked above).")?;
            }
        }
    }
    Ok(if all_ok { EXIT_OK } else { EXIT_FAIL })
}
