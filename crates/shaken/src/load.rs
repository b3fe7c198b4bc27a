//! Reading the files a configuration names (edge, feature `fs`): trust
//! anchors (files or directories), pinned chains, CRLs, TLS roots and keys.
//! The only place outside `fetch` and `replay_dir` where the library touches
//! the file system; every error names the setting and the path.

use crate::cert::{parse_chain, Certificate, Crl, TrustAnchors};
use crate::config::{ConfigError, Setting, Source};
use crate::limits::Limits;
use std::path::{Path, PathBuf};

/// The bytes of a source that must be a file (or inline).
pub fn read(source: &Source, setting: Setting) -> Result<Vec<u8>, ConfigError> {
    match source {
        Source::Inline(b) => Ok(b.clone()),
        Source::Path(p) => std::fs::read(p).map_err(|e| ConfigError::Read {
            setting,
            path: p.clone(),
            source: e,
        }),
    }
}

/// Trust anchors from files, directories (their `.pem`, `.crt` and `.cer`
/// files, in name order) and inline PEM. A file without any certificate is
/// an error: an anchors file that trusts nothing is a mistake.
pub fn trust_anchors(sources: &[Source]) -> Result<TrustAnchors, ConfigError> {
    let mut anchors = TrustAnchors::new();
    for s in sources {
        match s {
            Source::Inline(b) => add_anchors(&mut anchors, b, "(inline)")?,
            Source::Path(p) => add_anchor_path(&mut anchors, p)?,
        }
    }
    Ok(anchors)
}

fn add_anchor_path(anchors: &mut TrustAnchors, path: &Path) -> Result<(), ConfigError> {
    let unreadable = |e| ConfigError::Read {
        setting: Setting::TrustAnchors,
        path: path.to_owned(),
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(unreadable)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "pem" | "crt" | "cer"))
            })
            .collect();
        entries.sort();
        for p in entries {
            let bytes = read(&Source::Path(p.clone()), Setting::TrustAnchors)?;
            add_anchors(anchors, &bytes, &p.display().to_string())?;
        }
    } else {
        let bytes = read(&Source::Path(path.to_owned()), Setting::TrustAnchors)?;
        add_anchors(anchors, &bytes, &path.display().to_string())?;
    }
    Ok(())
}

fn add_anchors(anchors: &mut TrustAnchors, bytes: &[u8], what: &str) -> Result<(), ConfigError> {
    let n = anchors
        .add_pem(bytes)
        .map_err(|source| ConfigError::Certificate {
            setting: Setting::TrustAnchors,
            what: what.to_owned(),
            source,
        })?;
    if n == 0 {
        return Err(ConfigError::NoCertificate {
            setting: Setting::TrustAnchors,
            what: what.to_owned(),
        });
    }
    Ok(())
}

/// A certificate chain (PEM, end-entity first).
pub fn chain(source: &Source, limits: &Limits) -> Result<Vec<Certificate>, ConfigError> {
    let bytes = read(source, Setting::Cert)?;
    parse_chain(&bytes, limits).map_err(|e| ConfigError::Certificate {
        setting: Setting::Cert,
        what: source.describe(),
        source: e,
    })
}

/// A CRL (PEM or DER).
pub fn crl(source: &Source, limits: &Limits) -> Result<Crl, ConfigError> {
    let bytes = read(source, Setting::Crl)?;
    Crl::from_pem_or_der(&bytes, limits).map_err(|e| ConfigError::Certificate {
        setting: Setting::Crl,
        what: source.describe(),
        source: e,
    })
}

/// A PEM text (keys).
pub fn text(source: &Source, setting: Setting) -> Result<String, ConfigError> {
    String::from_utf8(read(source, setting)?).map_err(|_| ConfigError::NotText {
        setting,
        what: source.describe(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn pki() -> crate::pki::LabPki {
        crate::pki::LabPki::generate(&crate::pki::LabPkiOptions::new(
            1_767_225_600,
            1_767_225_600 + 86400,
        ))
        .unwrap()
    }

    #[test]
    fn anchors_from_files_directories_and_inline() {
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("root.pem"), pki.anchors_pem()).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not read").unwrap();
        let a = trust_anchors(&[Source::Path(dir.path().to_owned())]).unwrap();
        assert!(!a.is_empty());
        let a = trust_anchors(&[Source::Inline(pki.anchors_pem().into_bytes())]).unwrap();
        assert!(!a.is_empty());
        let e = trust_anchors(&[Source::Path(dir.path().join("missing.pem"))]).unwrap_err();
        assert_eq!(e.setting(), Setting::TrustAnchors);
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let e = trust_anchors(&[Source::Path(dir.path().join("notes.txt"))]).unwrap_err();
        assert!(
            e.to_string().contains("no CERTIFICATE") || e.to_string().contains("notes.txt"),
            "{e}"
        );
        assert!(!e.to_string().contains("--"), "{e}");
    }

    #[test]
    fn chain_and_key_errors_name_the_setting() {
        let e = chain(&Source::Inline(b"junk".to_vec()), &Limits::default()).unwrap_err();
        assert_eq!(e.setting(), Setting::Cert);
        assert!(
            e.to_string().starts_with("certificate chain (inline)"),
            "{e}"
        );
        let e = text(&Source::Inline(vec![0xff, 0xfe]), Setting::Key).unwrap_err();
        assert_eq!(e.id(), "config-not-text");
    }
}
