//! `shaken pki init`.

use super::args::{OutFormat, PkiInitArgs};
use super::clock::{now, rfc3339};
use super::EXIT_OK;
use anyhow::{bail, Context, Result};
use shaken::pki::{LabPki, LabPkiOptions};
use std::io::Write;

/// The files `pki init` writes, and what each is.
pub const FILES: &[(&str, &str)] = &[
    (
        "root.pem",
        "self-signed root (\"SHAKEN Lab ROOT\"): the chain anchor; --trust-anchors root.pem validates chains without CRLs",
    ),
    ("root.key.pem", "root private key"),
    (
        "ca.pem",
        "intermediate STI-CA (\"SHAKEN Lab STI-CA\", keyUsage keyCertSign only)",
    ),
    ("ca.key.pem", "intermediate private key (signs SP certificates)"),
    (
        "sp.pem",
        "SP end-entity certificate (\"SHAKEN <SPC>\", TNAuthList with the SPC)",
    ),
    ("sp.key.pem", "SP private key: pass to `shaken sign --key`"),
    (
        "sp-chain.pem",
        "SP certificate then intermediate: what an STI-CR serves at x5u; pass to --cert",
    ),
    (
        "crl-signer.pem",
        "self-signed lab STI-PA CRL signer (\"SHAKEN Lab STI-PA CRL\", keyUsage cRLSign): the cRLIssuer of the CRL distribution points; signs crl.pem",
    ),
    ("crl-signer.key.pem", "CRL signer private key"),
    (
        "anchors.pem",
        "root.pem + crl-signer.pem: pass to --trust-anchors when checking CRLs (--crl crl.pem, --fetch-crl)",
    ),
    (
        "crl.pem",
        "empty indirect CRL signed by the CRL signer (the lab STI-PA CRL)",
    ),
];

/// `--claim-must-include`, `--claim-permitted CLAIM=VALUE`,
/// `--claim-must-exclude` as the SP certificate's RFC 9118 constraints.
fn claim_constraints(
    a: &PkiInitArgs,
) -> Result<Option<shaken::cert::claim_constraints::ClaimConstraints>> {
    if a.claim_must_include.is_empty()
        && a.claim_permitted.is_empty()
        && a.claim_must_exclude.is_empty()
    {
        return Ok(None);
    }
    let mut permitted: Vec<(String, Vec<String>)> = Vec::new();
    for p in &a.claim_permitted {
        let Some((claim, value)) = p.split_once('=').filter(|(c, _)| !c.is_empty()) else {
            bail!("--claim-permitted {p:?}: expected CLAIM=VALUE");
        };
        match permitted.iter_mut().find(|(c, _)| c == claim) {
            Some((_, values)) => values.push(value.to_owned()),
            None => permitted.push((claim.to_owned(), vec![value.to_owned()])),
        }
    }
    let c = shaken::cert::claim_constraints::ClaimConstraints {
        must_include: a.claim_must_include.clone(),
        permitted_values: permitted,
        must_exclude: a.claim_must_exclude.clone(),
    };
    c.to_der()
        .context("--claim-must-include / --claim-permitted")?;
    Ok(Some(c))
}

pub fn init(a: PkiInitArgs) -> Result<i32> {
    let not_before = a.not_before.unwrap_or_else(|| now() - 3600);
    let not_after = not_before + i64::from(a.days) * 86_400;
    let mut opts = LabPkiOptions::new(not_before, not_after);
    opts.spc = a.spc.clone();
    opts.crl_url = a.crl_url.clone();
    opts.sp_claim_constraints = claim_constraints(&a)?;
    let pki = LabPki::generate(&opts).context("generating the lab PKI")?;
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    if !a.force {
        for (name, _) in FILES {
            let p = a.dir.join(name);
            if p.exists() {
                bail!("{} exists; pass --force to overwrite", p.display());
            }
        }
    }
    let contents = [
        pki.root.cert_pem.clone(),
        pki.root.key_pem.clone(),
        pki.ca.cert_pem.clone(),
        pki.ca.key_pem.clone(),
        pki.leaf.cert_pem.clone(),
        pki.leaf.key_pem.clone(),
        pki.leaf_chain_pem(),
        pki.crl_signer.cert_pem.clone(),
        pki.crl_signer.key_pem.clone(),
        pki.anchors_pem(),
        pki.crl.clone(),
    ];
    let mut written = Vec::new();
    for ((name, what), body) in FILES.iter().zip(contents) {
        let p = a.dir.join(name);
        let private = name.ends_with(".key.pem");
        write_file(&p, body.as_bytes(), private)
            .with_context(|| format!("writing {}", p.display()))?;
        match a.format {
            OutFormat::Text => eprintln!("wrote {:<40} {what}", p.display()),
            OutFormat::Json => written.push(serde_json::json!({
                "path": p.display().to_string(),
                "what": what,
                "private_key": private,
            })),
        }
    }
    if a.format == OutFormat::Json {
        let out = serde_json::json!({
            "dir": a.dir.display().to_string(),
            "spc": a.spc,
            "not_before": rfc3339(not_before),
            "not_after": rfc3339(not_after),
            "files": written,
        });
        writeln!(std::io::stdout().lock(), "{out}")?;
    }
    Ok(EXIT_OK)
}

/// Write `body` to `path`; a private key gets mode 0600 (owner only) from its
/// creation on, so it is never readable by others, even for a moment. An
/// existing file (`--force`) is truncated and its mode set again.
fn write_file(path: &std::path::Path, body: &[u8], private: bool) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if private {
            opts.mode(0o600);
        }
        let mut f = opts.open(path)?;
        if private {
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(body)
    }
    #[cfg(not(unix))]
    {
        let _ = private;
        opts.open(path)?.write_all(body)
    }
}
