//! The command-line shell. It parses, calls the library, renders and maps the
//! outcome to an exit status: 0 passed/success, 1 verification ran and did
//! not pass, 2 usage, I/O or internal error.

mod args;
mod calls;
mod clock;
mod hints;
mod input;
mod mode;
mod render;
mod setup;

// The command modules: one function per mode; none imports another.
mod batch;
mod cert;
mod demo;
mod hep;
mod pcap;
mod pki;
mod serve;
mod sign;
mod sip;
mod trust;
mod verify;

use clap::Parser;
use mode::Mode;

/// Exit status: success / verification passed.
pub const EXIT_OK: i32 = 0;
/// Exit status: verification ran and did not pass.
pub const EXIT_FAIL: i32 = 1;
/// Exit status: usage, I/O or internal error.
pub const EXIT_ERROR: i32 = 2;

/// Run the CLI and return the exit status.
pub fn run() -> i32 {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    let result = Mode::from_args(cli.command).and_then(|mode| match mode {
        Mode::Sign { orig, attest, args } => sign::run(&orig, attest, args),
        Mode::SignSip {
            message,
            attest,
            args,
        } => sip::sign(message, attest, args),
        Mode::SignDiv {
            incoming,
            dest,
            args,
        } => sign::div(&incoming, &dest, args),
        Mode::SignSipDivert { message, args } => sip::divert(message, args),
        Mode::SignBatch { input, args } => batch::sign(input, args),
        Mode::Verify(args) => verify::run(args),
        Mode::VerifySip { message, args } => sip::verify(message, args),
        Mode::VerifyBatch { input, args } => batch::verify(input, args),
        Mode::VerifyPcap { capture, args } => pcap::verify(capture, args),
        Mode::VerifyHep { addr, args } => hep::verify(addr, args),
        Mode::Decode(args) => verify::decode(args),
        Mode::PkiInit(args) => pki::init(args),
        Mode::Demo(args) => demo::run(args),
        Mode::CertInspect(args) => cert::inspect(args),
        Mode::CertVerify(args) => cert::verify(args),
        Mode::CertLint(args) => cert::lint(args),
        Mode::Serve(args) => serve::run(args),
        Mode::TrustUpdate(args) => trust::update(args),
        Mode::TrustShow(args) => trust::show(args),
        Mode::TrustUpdateCrl(args) => trust::update_crl(args),
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return EXIT_OK;
            }
            eprintln!("error: {}", render::error_chain(&e));
            if let Some(h) = hints::for_error(&e) {
                eprintln!("hint: {h}");
            }
            EXIT_ERROR
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    /// The command modules: one function per mode each. None may name
    /// another (that is how the dispatch cycles came about); what they share
    /// lives in the shared modules.
    const COMMANDS: [(&str, &str); 11] = [
        ("batch", include_str!("batch.rs")),
        ("cert", include_str!("cert.rs")),
        ("demo", include_str!("demo.rs")),
        ("hep", include_str!("hep.rs")),
        ("pcap", include_str!("pcap.rs")),
        ("pki", include_str!("pki.rs")),
        ("serve", include_str!("serve.rs")),
        ("sign", include_str!("sign.rs")),
        ("sip", include_str!("sip.rs")),
        ("trust", include_str!("trust.rs")),
        ("verify", include_str!("verify.rs")),
    ];
    /// The modules the command modules may use.
    const SHARED: [&str; 9] = [
        "args", "calls", "clock", "hints", "input", "mod", "mode", "render", "setup",
    ];

    /// The command modules that `src` names as a module through `super::`
    /// or `crate::cli::`, in a `use` (also inside `{...}` groups) or in a
    /// path (`super::sign::load_signer(...)`). A name followed by `(` is a
    /// function of the parent (`super::verify(a)` in a tests module), not a
    /// module. Comments are skipped.
    fn named_commands(src: &str) -> Vec<String> {
        let code: String = src
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let ident_len = |s: &str| {
            s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(s.len())
        };
        let is_module = |after: &str| {
            let after = after.trim_start();
            after.starts_with("::")
                || after.starts_with(';')
                || after.starts_with(',')
                || after.starts_with('}')
                || after.starts_with("as ")
        };
        let mut found = Vec::new();
        for prefix in ["super::", "crate::cli::"] {
            let mut rest = code.as_str();
            while let Some(i) = rest.find(prefix) {
                rest = &rest[i + prefix.len()..];
                let mut tail = rest.trim_start();
                while let Some(t) = tail.strip_prefix("super::") {
                    tail = t.trim_start();
                }
                rest = tail;
                let mut items: Vec<&str> = Vec::new();
                if let Some(group) = tail.strip_prefix('{') {
                    // Top-level items of the group, up to its closing brace.
                    let (mut depth, mut start) = (0usize, 0usize);
                    for (j, c) in group.char_indices() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => {
                                items.push(&group[start..j]);
                                break;
                            }
                            '}' => depth -= 1,
                            ',' if depth == 0 => {
                                items.push(&group[start..j]);
                                start = j + 1;
                            }
                            _ => {}
                        }
                    }
                    for item in items {
                        let item = item.trim();
                        let n = ident_len(item);
                        if n > 0 && (n == item.len() || is_module(&item[n..])) {
                            found.push(item[..n].to_owned());
                        }
                    }
                } else {
                    let n = ident_len(tail);
                    if n > 0 && is_module(&tail[n..]) {
                        found.push(tail[..n].to_owned());
                    }
                }
            }
        }
        found
            .into_iter()
            .filter(|name| COMMANDS.iter().any(|(c, _)| c == name))
            .collect()
    }

    #[test]
    fn no_command_module_imports_another() {
        let mut cycles = Vec::new();
        for (name, src) in COMMANDS {
            for other in named_commands(src) {
                if other != name {
                    cycles.push(format!("{name}.rs names {other}"));
                }
            }
        }
        assert!(
            cycles.is_empty(),
            "command modules must not import each other (put what they share in setup, \
             input, render or clock, and dispatch in mode/mod.rs): {cycles:?}"
        );
    }

    #[test]
    fn the_cycle_guard_sees_every_form() {
        for src in [
            "use super::sign::load_signer;",
            "use super::sign;",
            "use super::{args::SignArgs, sign::check_x5u};",
            "use super::{\n    args::X,\n    sign,\n};",
            "use crate::cli::sign::{check_x5u, load_signer};",
            "    let s = super::sign::load_signer(&k, d)?;",
            "use super::super::sign::x;",
            "use super::sign as s;",
        ] {
            assert_eq!(named_commands(src), ["sign"], "{src:?}");
        }
        for src in [
            "use super::setup::{build_setup, check_x5u};",
            "use super::*;",
            "    super::verify(a)",
            "// use super::sign::load_signer;",
            "use super::{args::SignArgs, setup::{sign, verify}};",
        ] {
            assert!(named_commands(src).is_empty(), "{src:?}");
        }
    }

    #[test]
    fn every_cli_module_is_a_command_or_shared() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/cli");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap();
            assert!(
                COMMANDS.iter().any(|(c, _)| *c == stem) || SHARED.contains(&stem),
                "src/cli/{stem}.rs: list it in COMMANDS (checked for cycles) or SHARED"
            );
        }
    }

    /// ARCHITECTURE.md names every module of the shell.
    #[test]
    fn every_cli_module_is_on_the_map() {
        let map = include_str!("../../ARCHITECTURE.md");
        for m in COMMANDS
            .iter()
            .map(|(c, _)| *c)
            .chain(SHARED.iter().copied())
        {
            if m == "mod" {
                continue;
            }
            assert!(
                map.contains(&format!("`{m}`")),
                "ARCHITECTURE.md does not name src/cli/{m}.rs"
            );
        }
    }
}
