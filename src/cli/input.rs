//! Reading the inputs of the subcommands: files and stdin with a size bound,
//! the Identity value.

use anyhow::{bail, Context, Result};
use std::io::Read;

/// Read a file, or stdin for "-", with a size bound.
pub fn read_input(path: &str, max: usize) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    if path == "-" {
        std::io::stdin()
            .lock()
            .take(max as u64 + 1)
            .read_to_end(&mut buf)
            .context("reading standard input")?;
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("opening {path}"))?
            .take(max as u64 + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("reading {path}"))?;
    }
    if buf.len() > max {
        bail!("{path}: input is larger than {max} bytes");
    }
    Ok(buf)
}

/// Input read with a size bound.
pub enum Bounded {
    /// At most the bound.
    Fits(Vec<u8>),
    /// Longer than the bound: its real length, counted to the end of the
    /// input without keeping it (memory stays bounded).
    TooLong(usize),
}

/// Read a file, or stdin for `-`, keeping at most `max` bytes; a longer input
/// is read to its end only to count it. For input from strangers (a SIP
/// message, an Identity value), where too long is a finding, not a usage error.
pub fn read_bounded(path: &str, max: usize) -> Result<Bounded> {
    fn go(mut r: impl Read, max: usize) -> std::io::Result<Bounded> {
        let mut buf = Vec::new();
        (&mut r).take(max as u64 + 1).read_to_end(&mut buf)?;
        if buf.len() <= max {
            return Ok(Bounded::Fits(buf));
        }
        let rest = std::io::copy(&mut r, &mut std::io::sink())?;
        Ok(Bounded::TooLong(
            usize::try_from(rest)
                .unwrap_or(usize::MAX)
                .saturating_add(buf.len()),
        ))
    }
    if path == "-" {
        go(std::io::stdin().lock(), max).context("reading standard input")
    } else {
        let f = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
        go(f, max).with_context(|| format!("reading {path}"))
    }
}

/// What `verify` got as the Identity value.
pub enum IdentityInput {
    /// The value, ready to parse.
    Value(String),
    /// The value cannot be an Identity header: it is a verification that
    /// fails (exit 1, `identity-malformed`), not a usage error.
    Refused(shaken::identity::IdentityError),
}

/// The Identity value for `verify`, from the argument or stdin. Stdin may
/// hold up to twice `header_max` (a pasted `Identity:` name, folding); longer
/// input is read to its end without being kept (memory stays bounded) so
/// that the refusal can give its real length; non-UTF-8 input is refused
/// with the offset of the first bad byte.
pub fn identity_input(arg: Option<&str>, header_max: usize) -> Result<IdentityInput> {
    use shaken::identity::IdentityError;
    let max = header_max.saturating_mul(2);
    if matches!(arg, None | Some("-")) && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let buf = match read_bounded("-", max)? {
            Bounded::Fits(buf) => buf,
            Bounded::TooLong(len) => {
                return Ok(IdentityInput::Refused(IdentityError::TooLong {
                    len,
                    max: header_max,
                }))
            }
        };
        return match String::from_utf8(buf) {
            Ok(text) => identity_value(Some(&text), max).map(IdentityInput::Value),
            Err(e) => Ok(IdentityInput::Refused(IdentityError::NotUtf8 {
                offset: e.utf8_error().valid_up_to(),
            })),
        };
    }
    identity_value(arg, max).map(IdentityInput::Value)
}

/// The Identity value from the argument or stdin; a pasted "Identity:" or
/// "y:" header name is stripped.
pub fn identity_value(arg: Option<&str>, max: usize) -> Result<String> {
    let raw = match arg {
        None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
            bail!("no Identity header value given: pass VALUE, or '-' with the value on stdin (see --help)")
        }
        None | Some("-") => {
            let bytes = read_input("-", max)?;
            String::from_utf8(bytes).context("standard input is not UTF-8")?
        }
        Some(v) => v.to_owned(),
    };
    let joined = shaken::identity::unpaste(&raw).into_owned();
    if joined.is_empty() {
        bail!("no Identity header value given (pass VALUE, or '-' and the value on stdin)");
    }
    Ok(joined)
}
