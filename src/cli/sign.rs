//! `shaken sign`.

use super::args::{SignArgs, SignFormat};
use super::clock::now;
use super::setup::{config_error, rcd_signing};
use super::EXIT_OK;
use anyhow::{Context, Result};
use shaken::atis::RequestPolicy;
use shaken::passport::Attestation;
use shaken::tn::TnPolicy;
use shaken::{SignRequest, SignerConfig, StiAs};

/// `shaken sign --orig TN --dest TN --attest A|B|C`: sign one call.
pub fn run(orig: &str, attest: Attestation, a: SignArgs) -> Result<i32> {
    let policy = RequestPolicy::with_tn(TnPolicy {
        national: a.tn.tn_national,
    });
    let iat = a.iat.unwrap_or_else(now);
    let dest: Vec<&str> = a.dest.iter().map(String::as_str).collect();
    // The same rules as a REST or batch signing request.
    let request = SignRequest::new(
        attest.as_str(),
        orig,
        &dest,
        iat,
        a.origid.as_deref(),
        &policy,
    )
    .map_err(|e| {
        let flag = match e.field() {
            Some("orig.tn") => "--orig",
            Some("dest.tn") => "--dest",
            Some("origid") => "--origid",
            Some("iat") => "--iat",
            _ => "--attest",
        };
        anyhow::Error::new(e).context(flag)
    })?;
    let mut config = SignerConfig::new(a.key.as_path(), a.x5u.clone());
    config.deterministic = a.deterministic;
    config.tn_national = a.tn.tn_national;
    let signer = StiAs::from_config(&config).map_err(config_error)?;
    let rcd = rcd_signing(&a.rcd, &policy.tn)?;
    let signed = match &rcd {
        None => signer.sign(&request).context("signing")?,
        Some(r) => signer.sign_with_rcd(&request, r).context("signing")?,
    };
    let (identity, token, header, claims) = (
        signed.identity,
        signed.token,
        signer.header(),
        signed.claims,
    );
    // A separate ppt=rcd PASSporT (--rcd-separate) is a second line: a
    // second Identity header.
    let second = |s: Option<String>| s.map(|s| format!("\n{s}")).unwrap_or_default();
    let out = match a.format {
        SignFormat::Header => format!("{identity}{}", second(signed.rcd_identity.clone())),
        SignFormat::Token => format!("{token}{}", second(signed.rcd_token.clone())),
        SignFormat::Json => {
            let mut j = serde_json::json!({
                "identity": identity,
                "token": token,
                "header": header.to_json(),
                "claims": claims.to_json(),
            });
            if let (Some(i), Some(t)) = (&signed.rcd_identity, &signed.rcd_token) {
                j["rcd_identity"] = i.clone().into();
                j["rcd_token"] = t.clone().into();
            }
            serde_json::to_string(&j)?
        }
    };
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{out}")?;
    Ok(EXIT_OK)
}

/// `shaken sign --div IDENTITY --dest TN`: sign a div PASSporT (RFC 8946)
/// for a call that arrived with IDENTITY and is retargeted to TN.
pub fn div(incoming: &str, dest: &str, a: SignArgs) -> Result<i32> {
    let incoming = if incoming == "-" {
        super::input::identity_value(Some("-"), shaken::Limits::default().max_identity_header_len)?
    } else {
        incoming.to_owned()
    };
    let mut config = SignerConfig::new(a.key.as_path(), a.x5u.clone());
    config.deterministic = a.deterministic;
    config.tn_national = a.tn.tn_national;
    let signer = StiAs::from_config(&config).map_err(config_error)?;
    let signed = signer
        .sign_div(incoming.trim(), dest, a.hi.as_deref())
        .map_err(|e| {
            let flag = match &e {
                shaken::div::DivSignError::DestInvalid { .. }
                | shaken::div::DivSignError::DestUnchanged { .. } => "--dest",
                shaken::div::DivSignError::HiInvalid { .. } => "--hi",
                _ => "--div",
            };
            anyhow::Error::new(e).context(flag)
        })?;
    let out = match a.format {
        SignFormat::Header => signed.identity,
        SignFormat::Token => signed.token,
        SignFormat::Json => serde_json::to_string(&serde_json::json!({
            "identity": signed.identity,
            "token": signed.token,
            "header": shaken::div::div_header(signer.x5u()).to_json(),
            "claims": signed.claims.to_json(),
        }))?,
    };
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{out}")?;
    Ok(EXIT_OK)
}
