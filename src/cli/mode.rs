//! What the binary is asked to do, decided once from the parsed flags (as
//! ripgrep's `Mode`): one variant per thing `shaken` can do. `mod.rs` matches
//! on it in one place, and each arm calls one function of one command
//! module, so no command module dispatches to another.
//!
//! Which flag selects which mode, and what a mode needs beyond what clap
//! enforces, is decided here and nowhere else.

use super::args::{
    CertCommand, CertInspectArgs, CertLintArgs, CertVerifyArgs, Command, CrlArgs, CrlPolicyArg,
    DecodeArgs, DemoArgs, FetchArgs, PkiCommand, PkiInitArgs, ServeArgs, SignArgs, TrustCommand,
    TrustCrlArgs, TrustShowArgs, TrustUpdateArgs, VerifyArgs,
};
use anyhow::{bail, Result};
use shaken::passport::Attestation;

/// One thing the binary can do, with the flags it runs with.
#[derive(Debug)]
pub enum Mode {
    /// `sign --orig --dest --attest`: sign one call.
    Sign {
        /// `--orig`.
        orig: String,
        /// `--attest`.
        attest: Attestation,
        /// The flags.
        args: SignArgs,
    },
    /// `sign --sip FILE|-`: add an Identity header to a SIP request.
    SignSip {
        /// The SIP message, a path or `-`.
        message: String,
        /// `--attest`.
        attest: Attestation,
        /// The flags.
        args: SignArgs,
    },
    /// `sign --div IDENTITY --dest TN`: sign a div PASSporT (RFC 8946).
    SignDiv {
        /// The incoming Identity value or PASSporT, or `-`.
        incoming: String,
        /// The new target.
        dest: String,
        /// The flags.
        args: SignArgs,
    },
    /// `sign --sip FILE|- --divert`: add div PASSporTs to a retargeted request.
    SignSipDivert {
        /// The SIP message, a path or `-`.
        message: String,
        /// The flags.
        args: SignArgs,
    },
    /// `sign --batch FILE|-`: sign JSON Lines of signing requests.
    SignBatch {
        /// The JSON Lines input, a path or `-`.
        input: String,
        /// The flags.
        args: SignArgs,
    },
    /// `verify VALUE|-`: verify one Identity header value (or PASSporT).
    Verify(VerifyArgs),
    /// `verify --sip FILE|-`: verify every Identity header of a SIP request.
    VerifySip {
        /// The SIP message, a path or `-`.
        message: String,
        /// The flags.
        args: VerifyArgs,
    },
    /// `verify --batch FILE|-`: verify JSON Lines of verification requests.
    VerifyBatch {
        /// The JSON Lines input, a path or `-`.
        input: String,
        /// The flags.
        args: VerifyArgs,
    },
    /// `verify --hep ADDR`: verify every INVITE mirrored to a HEP listener.
    VerifyHep {
        /// The address to listen on (UDP and TCP).
        addr: String,
        /// The flags.
        args: VerifyArgs,
    },
    /// `verify --pcap FILE|-`: verify every INVITE of a capture.
    VerifyPcap {
        /// The pcap/pcapng file.
        capture: String,
        /// The flags.
        args: VerifyArgs,
    },
    /// `decode`: show an Identity header or PASSporT, checking nothing.
    Decode(DecodeArgs),
    /// `pki init DIR`: write a lab PKI.
    PkiInit(PkiInitArgs),
    /// `demo`: the whole job on built-in data.
    Demo(DemoArgs),
    /// `cert inspect`: show and lint a certificate chain.
    CertInspect(CertInspectArgs),
    /// `cert verify`: validate a chain to the trust anchors.
    CertVerify(CertVerifyArgs),
    /// `cert lint`: lint a chain, exit 1 on an error-level finding.
    CertLint(CertLintArgs),
    /// `serve`: the REST signing and verification service.
    Serve(ServeArgs),
    /// `trust update`: verify and install the STI-PA trust list.
    TrustUpdate(TrustUpdateArgs),
    /// `trust show DIR`: what is installed.
    TrustShow(TrustShowArgs),
    /// `trust update-crl`: verify and install the STI-PA CRL.
    TrustUpdateCrl(TrustCrlArgs),
}

impl Mode {
    /// The mode of the parsed command line. `sign` and `verify` choose by
    /// their input flags, in this order: `--sip`, `--batch`, `--pcap`, else
    /// one call or value (clap already refuses the combinations that
    /// conflict). An error is a usage error (exit 2).
    pub fn from_args(command: Command) -> Result<Mode> {
        Ok(match command {
            Command::Sign(args) => {
                if args.jobs.is_some() && args.batch.is_none() {
                    bail!("--jobs sets the workers of --batch: use it with --batch");
                }
                if args.hi.is_some() && args.div.is_none() && !args.divert {
                    bail!("--hi is the History-Info index of a div PASSporT: use it with --div or --sip --divert");
                }
                if let Some(incoming) = args.div.clone() {
                    let [dest] = &args.dest[..] else {
                        bail!(
                            "--div needs exactly one --dest: the new target of the retargeted call"
                        );
                    };
                    let dest = dest.clone();
                    Mode::SignDiv {
                        incoming,
                        dest,
                        args,
                    }
                } else if let (Some(message), true) = (args.sip.clone(), args.divert) {
                    Mode::SignSipDivert { message, args }
                } else if let Some(message) = args.sip.clone() {
                    let Some(attest) = args.attest else {
                        bail!("--attest is required with --sip");
                    };
                    Mode::SignSip {
                        message,
                        attest,
                        args,
                    }
                } else if let Some(input) = args.batch.clone() {
                    Mode::SignBatch { input, args }
                } else {
                    let (Some(orig), Some(attest)) = (args.orig.clone(), args.attest) else {
                        bail!("--orig, --dest and --attest are required (or use --sip / --batch)");
                    };
                    Mode::Sign { orig, attest, args }
                }
            }
            Command::Verify(args) => {
                let many = args.batch.is_some() || args.pcap.is_some() || args.hep.is_some();
                for (set, flag) in [
                    (args.report.is_some(), "--report"),
                    (args.summary_json.is_some(), "--summary-json"),
                    (args.csv.is_some(), "--csv"),
                    (args.traceback.is_some(), "--traceback"),
                ] {
                    if set && !many {
                        bail!(
                            "{flag} writes the summary of many calls: use it with --batch, --pcap or --hep \
                             (one value or --sip prints its report on stdout; add --format json)"
                        );
                    }
                }
                if args.max_calls.is_some() && args.hep.is_none() {
                    bail!("--max-calls stops a --hep listener: use it with --hep");
                }
                if args.summary_every == 0 {
                    bail!("--summary-every must be at least 1 second");
                }
                if args.jobs.is_some() && args.batch.is_none() {
                    bail!("--jobs sets the workers of --batch: use it with --batch (--pcap reads one capture in order)");
                }
                hard_crl_policy_needs_a_crl(&args.crl)?;
                if args.verstat_attest && args.sip.is_none() {
                    bail!("--verstat-attest changes the verstat parameter --sip signals: use it with --sip");
                }
                if let Some(message) = args.sip.clone() {
                    Mode::VerifySip { message, args }
                } else if let Some(input) = args.batch.clone() {
                    Mode::VerifyBatch { input, args }
                } else if let Some(capture) = args.pcap.clone() {
                    Mode::VerifyPcap { capture, args }
                } else if let Some(addr) = args.hep.clone() {
                    Mode::VerifyHep { addr, args }
                } else {
                    Mode::Verify(args)
                }
            }
            Command::Decode(args) => Mode::Decode(args),
            Command::Pki(PkiCommand::Init(args)) => Mode::PkiInit(args),
            Command::Demo(args) => Mode::Demo(args),
            Command::Cert(CertCommand::Inspect(args)) => {
                fetch_flags_need_a_url(&args.source, &args.fetch)?;
                Mode::CertInspect(args)
            }
            Command::Cert(CertCommand::Verify(args)) => {
                fetch_flags_need_a_url(&args.chain, &args.fetch)?;
                hard_crl_policy_needs_a_crl(&args.crl)?;
                Mode::CertVerify(args)
            }
            Command::Cert(CertCommand::Lint(args)) => {
                fetch_flags_need_a_url(&args.source, &args.fetch)?;
                Mode::CertLint(args)
            }
            Command::Serve(args) => Mode::Serve(args),
            Command::Trust(TrustCommand::Update(args)) => Mode::TrustUpdate(args),
            Command::Trust(TrustCommand::Show(args)) => Mode::TrustShow(args),
            Command::Trust(TrustCommand::UpdateCrl(args)) => Mode::TrustUpdateCrl(args),
        })
    }
}

/// The fetch flags change how a URL is fetched: with a file they would be
/// silently ignored, so they are a usage error.
fn fetch_flags_need_a_url(source: &str, f: &FetchArgs) -> Result<()> {
    let is_url = source.starts_with("http://") || source.starts_with("https://");
    let given = [
        (f.allow_http_x5u, "--allow-http-x5u"),
        (f.allow_private_x5u, "--allow-private-x5u"),
        (f.allow_any_port_x5u, "--allow-any-port-x5u"),
        (!f.tls_ca.is_empty(), "--tls-ca"),
        (f.cache_dir.is_some(), "--cache-dir"),
    ];
    match given.iter().find(|(on, _)| *on) {
        Some((_, flag)) if !is_url => {
            bail!("{flag} sets how a URL is fetched, but {source:?} is not a URL: leave it out")
        }
        _ => Ok(()),
    }
}

/// `--crl-policy hard` with no CRL to apply would say nothing: a usage error.
fn hard_crl_policy_needs_a_crl(c: &CrlArgs) -> Result<()> {
    if c.crl_policy == CrlPolicyArg::Hard && c.crl.is_empty() && !c.fetch_crl {
        bail!("--crl-policy hard applies to CRLs: give --crl FILE|URL or --fetch-crl with it");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::cli::args::Cli;
    use clap::Parser;

    fn mode(argv: &[&str]) -> Mode {
        let cli =
            Cli::try_parse_from(std::iter::once("shaken").chain(argv.iter().copied())).unwrap();
        Mode::from_args(cli.command).unwrap()
    }

    const KEY: [&str; 4] = ["--key", "k.pem", "--x5u", "https://x/c.pem"];

    #[test]
    fn sign_modes() {
        let one = [&KEY[..], &["--orig", "1", "--dest", "2", "--attest", "A"]].concat();
        assert!(
            matches!(mode(&[&["sign"], &one[..]].concat()), Mode::Sign { ref orig, .. } if orig == "1")
        );
        let sip = [&KEY[..], &["--sip", "m.txt", "--attest", "B"]].concat();
        assert!(matches!(
            mode(&[&["sign"], &sip[..]].concat()),
            Mode::SignSip { ref message, attest: Attestation::B, .. } if message == "m.txt"
        ));
        let batch = [&KEY[..], &["--batch", "-"]].concat();
        assert!(
            matches!(mode(&[&["sign"], &batch[..]].concat()), Mode::SignBatch { ref input, .. } if input == "-")
        );
    }

    #[test]
    fn verify_modes() {
        assert!(matches!(mode(&["verify", "x"]), Mode::Verify(_)));
        assert!(matches!(
            mode(&["verify", "--sip", "-"]),
            Mode::VerifySip { ref message, .. } if message == "-"
        ));
        assert!(matches!(
            mode(&["verify", "--batch", "b.jsonl"]),
            Mode::VerifyBatch { ref input, .. } if input == "b.jsonl"
        ));
        assert!(matches!(
            mode(&["verify", "--pcap", "c.pcap"]),
            Mode::VerifyPcap { ref capture, .. } if capture == "c.pcap"
        ));
    }

    fn refused(argv: &[&str]) -> String {
        match Cli::try_parse_from(std::iter::once("shaken").chain(argv.iter().copied())) {
            Err(e) => e.to_string(),
            Ok(cli) => Mode::from_args(cli.command).unwrap_err().to_string(),
        }
    }

    /// A flag the chosen mode would not use is a usage error naming it
    /// (issue 22 item 5), never silently ignored.
    #[test]
    fn ignored_flags_are_refused() {
        let sign = |extra: &[&str]| refused(&[&["sign"], &KEY[..], extra].concat());
        for (extra, names) in [
            (
                &["--sip", "m", "--attest", "A", "--format", "json"][..],
                ["--sip", "--format"],
            ),
            (
                &["--batch", "b", "--format", "token"][..],
                ["--batch", "--format"],
            ),
            (
                &["--batch", "b", "--attest", "A"][..],
                ["--batch", "--attest"],
            ),
            (&["--batch", "b", "--iat", "1"][..], ["--batch", "--iat"]),
            (
                &["--batch", "b", "--origid", "x"][..],
                ["--batch", "--origid"],
            ),
            (
                &["--orig", "1", "--dest", "2", "--attest", "A", "--jobs", "2"][..],
                ["--jobs", "--batch"],
            ),
        ] {
            let e = sign(extra);
            for n in names {
                assert!(e.contains(n), "{extra:?}: {e}");
            }
        }
        for (argv, names) in [
            (
                &["verify", "x", "--report", "r.html"][..],
                ["--report", "--batch"],
            ),
            (
                &["verify", "--sip", "m", "--report", "r.html"][..],
                ["--report", "--pcap"],
            ),
            (
                &["verify", "x", "--replay", "--no-replay"][..],
                ["--replay", "--no-replay"],
            ),
            (
                &["verify", "x", "--no-replay", "--replay-dir", "d"][..],
                ["--no-replay", "--replay-dir"],
            ),
            (
                &["verify", "--batch", "b", "--orig", "1"][..],
                ["--orig", "--batch"],
            ),
            (
                &["verify", "--pcap", "c", "--dest", "1"][..],
                ["--dest", "--pcap"],
            ),
            (
                &["verify", "--sip", "m", "--orig", "1"][..],
                ["--orig", "--sip"],
            ),
            (&["verify", "x", "--jobs", "2"][..], ["--jobs", "--batch"]),
            (
                &["verify", "--pcap", "c", "--jobs", "2"][..],
                ["--jobs", "--batch"],
            ),
            (
                &["verify", "x", "--verstat-attest"][..],
                ["--verstat-attest", "--sip"],
            ),
        ] {
            let e = refused(argv);
            for n in names {
                assert!(e.contains(n), "{argv:?}: {e}");
            }
        }
        // What each mode does use stays accepted.
        mode(&[
            "verify", "--batch", "b", "--jobs", "2", "--report", "r.html", "--replay",
        ]);
        mode(&["verify", "--pcap", "c", "--report", "r.html", "--no-replay"]);
        mode(&[
            "verify",
            "--sip",
            "m",
            "--verstat-attest",
            "--replay-dir",
            "d",
        ]);
        mode(
            &[
                &["sign"],
                &KEY[..],
                &["--batch", "b", "--jobs", "2", "--deterministic"],
            ]
            .concat(),
        );
        mode(
            &[
                &["sign"],
                &KEY[..],
                &[
                    "--sip",
                    "m",
                    "--attest",
                    "A",
                    "--iat",
                    "2026-01-01T00:00:00Z",
                ],
            ]
            .concat(),
        );
    }

    #[test]
    fn times_are_unix_seconds_or_rfc3339() {
        use crate::cli::args::parse_time;
        assert_eq!(parse_time("1767225600"), Ok(1_767_225_600));
        assert_eq!(parse_time("2026-01-01T00:00:00Z"), Ok(1_767_225_600));
        assert_eq!(parse_time("2026-01-01T01:00:00+01:00"), Ok(1_767_225_600));
        assert_eq!(parse_time("-5"), Ok(-5));
        let e = parse_time("yesterday").unwrap_err();
        assert!(e.contains("RFC 3339") && e.contains("Unix seconds"), "{e}");
        let Mode::Verify(a) = mode(&["verify", "x", "--now", "2026-01-01T00:00:00Z"]) else {
            panic!("not verify");
        };
        assert_eq!(a.now, Some(1_767_225_600));
    }

    #[test]
    fn other_modes() {
        assert!(matches!(mode(&["decode", "x"]), Mode::Decode(_)));
        assert!(matches!(mode(&["pki", "init", "d"]), Mode::PkiInit(_)));
        assert!(matches!(mode(&["demo"]), Mode::Demo(_)));
        assert!(matches!(
            mode(&["cert", "inspect", "c.pem"]),
            Mode::CertInspect(_)
        ));
        assert!(matches!(
            mode(&["cert", "verify", "c.pem"]),
            Mode::CertVerify(_)
        ));
        assert!(matches!(
            mode(&["cert", "lint", "c.pem"]),
            Mode::CertLint(_)
        ));
        assert!(matches!(mode(&["serve"]), Mode::Serve(_)));
    }
}
