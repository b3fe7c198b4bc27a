//! The `shaken` command: parse arguments, call the library, render, exit.
#![forbid(unsafe_code)]

mod cli;

fn main() {
    std::process::exit(cli::run());
}
