//! The command-line shell. It parses, calls the library, renders and maps the
//! outcome to an exit status: 0 passed/success, 1 verification ran and did
//! not pass, 2 usage, I/O or internal error.

mod args;
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
mod pcap;
mod pki;
mod serve;
mod sign;
mod sip;
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
        Mode::SignBatch { input, args } => batch::sign(input, args),
        Mode::Verify(args) => verify::run(args),
        Mode::VerifySip { message, args } => sip::verify(message, args),
        Mode::VerifyBatch { input, args } => batch::verify(input, args),
        Mode::VerifyPcap { capture, args } => pcap::verify(capture, args),
        Mode::Decode(args) => verify::decode(args),
        Mode::PkiInit(args) => pki::init(args),
        Mode::Demo(args) => demo::run(args),
        Mode::CertInspect(args) => cert::inspect(args),
        Mode::CertVerify(args) => cert::verify(args),
        Mode::Serve(args) => serve::run(args),
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return EXIT_OK;
            }
            eprintln!("error: {e:#}");
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
