//! The command-line shell. It parses, calls the library, renders and maps the
//! outcome to an exit status: 0 passed/success, 1 verification ran and did
//! not pass, 2 usage, I/O or internal error.

mod args;
mod batch;
mod cert;
mod clock;
mod demo;
mod hints;
mod input;
mod pcap;
mod pki;
mod render;
mod serve;
mod setup;
mod sign;
mod sip;
mod verify;

use clap::Parser;

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
    let result = match cli.command {
        args::Command::Sign(a) => sign::run(a),
        args::Command::Verify(a) => verify::run(a),
        args::Command::Decode(a) => verify::decode(a),
        args::Command::Pki(args::PkiCommand::Init(a)) => pki::init(a),
        args::Command::Demo(a) => demo::run(a),
        args::Command::Cert(args::CertCommand::Inspect(a)) => cert::inspect(a),
        args::Command::Cert(args::CertCommand::Verify(a)) => cert::verify(a),
        args::Command::Serve(a) => serve::run(a),
    };
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
