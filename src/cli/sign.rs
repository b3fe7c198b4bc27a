//! `shaken sign`.

use super::args::{SignArgs, SignFormat};
use super::clock::now;
use super::setup::config_error;
use super::EXIT_OK;
use anyhow::{bail, Context, Result};
use shaken::atis::RequestPolicy;
use shaken::tn::TnPolicy;
use shaken::{SignRequest, SignerConfig, StiAs};

pub fn run(a: SignArgs) -> Result<i32> {
    if a.sip.is_some() {
        return super::sip::sign(a);
    }
    if a.batch.is_some() {
        return super::batch::sign(a);
    }
    let (Some(orig), Some(attest)) = (&a.orig, a.attest) else {
        bail!("--orig, --dest and --attest are required (or use --sip / --batch)");
    };
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
    let signed = signer.sign(&request).context("signing")?;
    let (identity, token, header, claims) = (
        signed.identity,
        signed.token,
        signer.header(),
        signed.claims,
    );
    let out = match a.format {
        SignFormat::Header => identity,
        SignFormat::Token => token,
        SignFormat::Json => serde_json::to_string(&serde_json::json!({
            "identity": identity,
            "token": token,
            "header": header.to_json(),
            "claims": claims.to_json(),
        }))?,
    };
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{out}")?;
    Ok(EXIT_OK)
}
