//! Reading the files a configuration names (edge, feature `fs`): trust
//! anchors (files or directories), pinned chains, CRLs, TLS roots and keys.
//! The only place outside `fetch` and `replay_dir` where the library touches
//! the file system; every error names the setting and the path.

use crate::cert::{parse_chain, CertError, Certificate, Crl, TrustAnchors};
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

/// Something worth telling about trust anchors that did not stop them from
/// loading: the caller shows it (the CLI on stderr).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorNote {
    /// A file of an anchors directory that holds no certificate (a key, a
    /// CRL, notes): skipped.
    #[error("{path}: holds no certificate; skipped (only the certificates of an anchors directory are read)")]
    Skipped {
        /// The file.
        path: String,
    },
    /// A certificate given as an anchor that is not self-issued: an
    /// intermediate becomes a trust anchor (often a chain file given as
    /// anchors), so whatever it issued is trusted without its root.
    #[error("{what}: {subject} is not self-signed (issued by {issuer}) but is trusted as an anchor; give only the STI root certificates (is this a chain file?)")]
    NotSelfSigned {
        /// The file or `(inline)`.
        what: String,
        /// Its subject.
        subject: String,
        /// Its issuer.
        issuer: String,
    },
}

/// Whether a file of an anchors directory is read: `.pem`, `.crt`, `.cer`,
/// and the OpenSSL hashed names `HASH.N` (eight hex digits, a dot, a number)
/// that `shaken trust update` and `c_rehash` write.
fn is_anchor_file_name(p: &Path) -> bool {
    if p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "pem" | "crt" | "cer"))
    {
        return true;
    }
    let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    match name.split_once('.') {
        Some((hash, n)) => {
            hash.len() == 8
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Trust anchors from files, directories (their `.pem`, `.crt` and `.cer`
/// files and OpenSSL-hashed `HASH.N` files, in name order) and inline PEM. A file without any certificate is
/// an error: an anchors file that trusts nothing is a mistake.
pub fn trust_anchors(sources: &[Source]) -> Result<TrustAnchors, ConfigError> {
    trust_anchors_with_notes(sources).map(|(anchors, _)| anchors)
}

/// [`trust_anchors`], with what the caller should be told: files of a
/// directory that hold no certificate are skipped (a note, not an error: a
/// key next to the roots must not stop a verifier), and every anchor that
/// is not self-signed is noted. A file named directly that holds no
/// certificate is still an error.
pub fn trust_anchors_with_notes(
    sources: &[Source],
) -> Result<(TrustAnchors, Vec<AnchorNote>), ConfigError> {
    let mut anchors = TrustAnchors::new();
    let mut notes = Vec::new();
    for s in sources {
        match s {
            Source::Inline(b) => add_anchors(&mut anchors, &mut notes, b, "(inline)")?,
            Source::Path(p) => add_anchor_path(&mut anchors, &mut notes, p)?,
        }
    }
    Ok((anchors, notes))
}

fn add_anchor_path(
    anchors: &mut TrustAnchors,
    notes: &mut Vec<AnchorNote>,
    path: &Path,
) -> Result<(), ConfigError> {
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
            .filter(|p| is_anchor_file_name(p))
            .collect();
        entries.sort();
        for p in entries {
            let bytes = read(&Source::Path(p.clone()), Setting::TrustAnchors)?;
            let what = p.display().to_string();
            match add_anchors(anchors, notes, &bytes, &what) {
                Err(ConfigError::NoCertificate { .. }) => {
                    notes.push(AnchorNote::Skipped { path: what })
                }
                other => other?,
            }
        }
    } else {
        let bytes = read(&Source::Path(path.to_owned()), Setting::TrustAnchors)?;
        add_anchors(anchors, notes, &bytes, &path.display().to_string())?;
    }
    Ok(())
}

fn add_anchors(
    anchors: &mut TrustAnchors,
    notes: &mut Vec<AnchorNote>,
    bytes: &[u8],
    what: &str,
) -> Result<(), ConfigError> {
    let no_certificate = || ConfigError::NoCertificate {
        setting: Setting::TrustAnchors,
        what: what.to_owned(),
    };
    let n = match anchors.add_pem(bytes) {
        Ok(n) => n,
        // Nothing that even looks like a certificate: no CERTIFICATE block.
        Err(CertError::NoPemBlock { .. } | CertError::Empty { .. }) => 0,
        Err(source) => {
            return Err(ConfigError::Certificate {
                setting: Setting::TrustAnchors,
                what: what.to_owned(),
                source,
            })
        }
    };
    if n == 0 {
        return Err(no_certificate());
    }
    // The anchors that are not self-issued (x509-parser reads the PEM; the
    // certificates parsed above, so a failure here only skips the check).
    for pem in x509_parser::pem::Pem::iter_from_buffer(bytes).flatten() {
        if pem.label != "CERTIFICATE" {
            continue;
        }
        let Ok((_, x)) = x509_parser::parse_x509_certificate(&pem.contents) else {
            continue;
        };
        let (subject, issuer) = (x.subject(), x.issuer());
        if subject.as_raw() != issuer.as_raw() {
            notes.push(AnchorNote::NotSelfSigned {
                what: what.to_owned(),
                subject: subject.to_string(),
                issuer: issuer.to_string(),
            });
        }
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

    /// A key next to the roots is skipped with a note; an intermediate (a
    /// chain file) given as an anchor is noted (issue 22 item 6).
    #[test]
    fn anchor_directories_skip_files_without_certificates_and_note_intermediates() {
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("root.pem"), &pki.root.cert_pem).unwrap();
        std::fs::write(dir.path().join("root.key.pem"), &pki.root.key_pem).unwrap();
        std::fs::write(dir.path().join("empty.crt"), "").unwrap();
        let (a, notes) = trust_anchors_with_notes(&[Source::Path(dir.path().to_owned())]).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes
            .iter()
            .all(|n| matches!(n, AnchorNote::Skipped { .. })));
        assert!(
            notes[1].to_string().contains("root.key.pem"),
            "{}",
            notes[1]
        );
        // The old entry point loads the same anchors.
        assert_eq!(
            trust_anchors(&[Source::Path(dir.path().to_owned())])
                .unwrap()
                .len(),
            1
        );
        // A chain given as anchors: the intermediate (and leaf) are noted.
        let (a, notes) =
            trust_anchors_with_notes(&[Source::Inline(pki.leaf_chain_pem().into_bytes())]).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(notes.len(), 2, "{notes:?}");
        let text = notes[1].to_string();
        assert!(
            text.contains("not self-signed") && text.contains("ROOT"),
            "{text}"
        );
        // A file named directly that holds no certificate is still an error.
        let e =
            trust_anchors_with_notes(&[Source::Path(dir.path().join("root.key.pem"))]).unwrap_err();
        assert_eq!(e.id(), "config-no-certificate");
    }

    /// The OpenSSL-hashed names of `shaken trust update` and `c_rehash`
    /// are read; a `HASH.r0` CRL and the state file are not; a `HASH.0`
    /// holding no certificate is skipped with a note.
    #[test]
    fn hashed_anchor_files_are_read() {
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1a2b3c4d.0"), &pki.root.cert_pem).unwrap();
        std::fs::write(dir.path().join("1a2b3c4d.1"), &pki.crl_signer.cert_pem).unwrap();
        std::fs::write(dir.path().join("1a2b3c4d.r0"), &pki.crl).unwrap();
        std::fs::write(dir.path().join("state.json"), "{}").unwrap();
        std::fs::write(dir.path().join("deadbeef.0"), "notes").unwrap();
        let (a, notes) = trust_anchors_with_notes(&[Source::Path(dir.path().to_owned())]).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].to_string().contains("deadbeef.0"));
        for (name, read) in [
            ("0123abcd.0", true),
            ("0123ABCD.12", true),
            ("0123abcd.", false),
            ("0123abc.0", false),
            ("0123abcd.r0", false),
            ("x.pem", true),
        ] {
            assert_eq!(is_anchor_file_name(Path::new(name)), read, "{name}");
        }
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
