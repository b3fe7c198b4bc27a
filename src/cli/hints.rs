//! The command line's own hints for library diagnostics. The library says
//! what is wrong in neutral words ("no trust anchors configured"); the shell
//! knows which flag or variable fixes it, and says so on stderr, keyed by the
//! diagnostic's stable id (never by its text).

use shaken::Diagnostic;
use shaken::Report;

/// The flag (or environment variable) that addresses the diagnostic `id`.
pub fn for_id(id: &str) -> Option<&'static str> {
    match id {
        "no-trust-anchors" => {
            Some("pass --trust-anchors FILE|DIR (the STI-PA roots) or set SHAKEN_TRUST_ANCHORS")
        }
        "fetch-scheme-not-allowed" => {
            Some("--allow-http-x5u allows plain-http x5u URLs (labs only)")
        }
        "fetch-port-not-allowed" => Some("--allow-any-port-x5u allows x5u URLs on other ports"),
        "replay-unavailable" => Some(
            "Redis did not answer within --redis-timeout-ms; --redis-failure open lets such calls through (checked on this node only)",
        ),
        "fetch-private-address" => Some(
            "--allow-private-x5u turns the SSRF guard off (labs only: never on a carrier network)",
        ),
        "fetch-busy" => Some(
            "every fetch slot stayed taken for --fetch-timeout-ms; --max-fetches N allows more fetches at once (default 64)",
        ),
        "identity-multiple" => {
            Some("pass the whole message with --sip FILE to verify every Identity header it holds")
        }
        _ => None,
    }
}

/// The hint for a report's reason, if it has one.
pub fn for_report(report: &Report) -> Option<&'static str> {
    report.reason.as_ref().and_then(|r| for_id(&r.id))
}

/// Print the hint for a report's reason on stderr (diagnostics go there;
/// stdout stays the report).
pub fn print_for_report(report: &Report) {
    if let Some(h) = for_report(report) {
        eprintln!("hint: {h}");
    }
}

/// Rich Call Data digests left `unverified` while fetching was off: say
/// which flag fetches the content (keyed by the integrity state, not text).
pub fn print_for_rcd(report: &Report, fetch_rcd: bool) {
    let unchecked = report.rcd.as_ref().is_some_and(|r| {
        r.integrity
            .values()
            .any(|i| *i == shaken::rcd::Integrity::Unverified)
    });
    if unchecked && !fetch_rcd && report.passed() {
        eprintln!("hint: --fetch-rcd fetches the logo/jCard the rcdi digests cover, to check them");
    }
}

/// The hint for the first library diagnostic in an error's cause chain.
pub fn for_error(e: &anyhow::Error) -> Option<&'static str> {
    for_diagnostic(e).or_else(|| for_io(e))
}

/// What to do about a file the system would not give us.
fn for_io(e: &anyhow::Error) -> Option<&'static str> {
    e.chain().find_map(
        |cause| match cause.downcast_ref::<std::io::Error>()?.kind() {
            std::io::ErrorKind::NotFound => {
                Some("check the path (a relative path is taken from the current directory)")
            }
            std::io::ErrorKind::PermissionDenied => {
                Some("the file is not readable by this user: check its owner and mode (ls -l)")
            }
            std::io::ErrorKind::AddrInUse => {
                Some("another process listens on that address: stop it or pick another port")
            }
            _ => None,
        },
    )
}

fn for_diagnostic(e: &anyhow::Error) -> Option<&'static str> {
    e.chain().find_map(|cause| {
        let id = if let Some(d) = cause.downcast_ref::<shaken::verify::VerifyError>() {
            Diagnostic::id(d)
        } else if let Some(d) = cause.downcast_ref::<shaken::identity::IdentityError>() {
            Diagnostic::id(d)
        } else if let Some(d) = cause.downcast_ref::<shaken::cert::ChainError>() {
            Diagnostic::id(d)
        } else if let Some(d) = cause.downcast_ref::<shaken::fetch::FetchError>() {
            Diagnostic::id(d)
        } else {
            return None;
        };
        for_id(id)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use shaken::cert::ChainError;
    use shaken::identity::IdentityError;
    use shaken::verify::VerifyError;

    #[test]
    fn hints_follow_the_ids_through_the_cause_chain() {
        let e = anyhow::Error::new(VerifyError::IdentityMalformed(IdentityError::Multiple {
            count: 2,
        }));
        // The wrapper's id is identity-malformed (no hint); its source is the
        // IdentityError the hint is for.
        assert_eq!(for_error(&e), for_id("identity-multiple"));
        assert!(for_error(&e).unwrap().contains("--sip"));
        // VerifyError::Chain forwards the chain's id.
        let e = anyhow::Error::new(VerifyError::Chain(ChainError::NoTrustAnchors));
        assert!(for_error(&e).unwrap().contains("--trust-anchors"));
        let e = anyhow::Error::new(ChainError::NoTrustAnchors).context("verifying");
        assert!(for_error(&e).unwrap().contains("--trust-anchors"));
        assert_eq!(for_id("signature-invalid"), None);
    }

    #[test]
    fn a_busy_fetch_names_the_flag_that_raises_the_cap() {
        let e = shaken::fetch::FetchError::Busy {
            url: "https://cr.example/sp.pem".into(),
            max: 64,
        };
        assert_eq!(Diagnostic::id(&e), "fetch-busy");
        let h = for_error(&anyhow::Error::new(e)).unwrap();
        assert!(h.contains("--max-fetches"), "{h}");
    }
}
