//! `shaken sign`.

use super::args::{SignArgs, SignFormat};
use super::common::now;
use super::EXIT_OK;
use anyhow::{bail, Context, Result};
use shaken::crypto::{DeterministicSigner, KeySigner, Signer};
use shaken::identity::IdentityHeader;
use shaken::passport::{self, Claims, Header};
use shaken::tn::{TelephoneNumber, TnPolicy};

/// Load a signer from a PEM key file.
pub fn load_signer(path: &std::path::Path, deterministic: bool) -> Result<Box<dyn Signer>> {
    let pem =
        std::fs::read_to_string(path).with_context(|| format!("reading key {}", path.display()))?;
    Ok(if deterministic {
        Box::new(
            DeterministicSigner::from_pem(&pem)
                .with_context(|| format!("key {}", path.display()))?,
        )
    } else {
        Box::new(KeySigner::from_pem(&pem).with_context(|| format!("key {}", path.display()))?)
    })
}

/// Check that an x5u is a URL we would fetch.
pub fn check_x5u(x5u: &str) -> Result<()> {
    let u = url::Url::parse(x5u).with_context(|| format!("--x5u {x5u:?} is not a valid URL"))?;
    if !matches!(u.scheme(), "https" | "http") {
        bail!("--x5u {x5u:?}: scheme must be https (or http for labs)");
    }
    Ok(())
}

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
    let policy = TnPolicy {
        national: a.tn.tn_national,
    };
    check_x5u(&a.x5u)?;
    let orig = TelephoneNumber::parse(orig, &policy).with_context(|| "--orig")?;
    let mut dest = Vec::new();
    for d in &a.dest {
        dest.push(
            TelephoneNumber::parse(d, &policy)
                .with_context(|| "--dest")?
                .to_string(),
        );
    }
    let origid = match &a.origid {
        Some(o) => {
            uuid::Uuid::parse_str(o).with_context(|| format!("--origid {o:?} is not a UUID"))?;
            o.to_ascii_lowercase()
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let iat = a.iat.unwrap_or_else(now);
    if iat < 0 {
        bail!("--iat must not be negative");
    }
    let signer = load_signer(&a.key, a.deterministic)?;
    let header = Header::shaken(&a.x5u);
    let claims = Claims::shaken(attest, orig.to_string(), dest, iat, origid);
    let token = passport::sign(&header, &claims, signer.as_ref()).context("signing")?;
    let identity = IdentityHeader::shaken(token.clone(), a.x5u.clone()).to_string();
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
