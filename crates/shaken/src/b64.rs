//! Strict base64url (RFC 7515 §2, RFC 8224 erratum 6499).
//!
//! Only the URL-safe alphabet `[A-Za-z0-9_-]`, no `=` padding, and canonical
//! trailing bits: any other input is rejected, so one byte string has exactly
//! one accepted encoding (otherwise a replay store keyed on the text could be
//! bypassed by re-encoding).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Why a base64url string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum B64Error {
    /// A character outside `[A-Za-z0-9_-]`.
    #[error("invalid base64url character {ch:?} at offset {offset} (only A-Z a-z 0-9 - _ are allowed, no padding)")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its byte offset.
        offset: usize,
    },
    /// A length that no unpadded encoding can have (4n+1).
    #[error("invalid base64url length {len} (a length of 4n+1 cannot be produced by any encoder)")]
    InvalidLength {
        /// The input length.
        len: usize,
    },
    /// The unused low bits of the last character are not zero.
    #[error("non-canonical base64url: the last character has non-zero trailing bits")]
    NonCanonical,
}

/// A building block: its SIP code is that of the token or header it was in.
impl crate::diagnostic::Diagnostic for B64Error {
    fn id(&self) -> &'static str {
        match self {
            B64Error::InvalidChar { .. } => "base64-invalid-char",
            B64Error::InvalidLength { .. } => "base64-invalid-length",
            B64Error::NonCanonical => "base64-non-canonical",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

/// Encode bytes as base64url without padding.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Encode bytes as base64url without padding, appended to `out`.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// Decode strict base64url: URL-safe alphabet, no padding, canonical trailing bits.
pub fn decode(text: &str) -> Result<Vec<u8>, B64Error> {
    // The engine accepts exactly the strict alphabet without padding and with
    // canonical bits, so text it decodes passes every check below; those
    // checks run only to name what is wrong (on every call's path, the
    // character scan cost as much as the decoding).
    match URL_SAFE_NO_PAD.decode(text) {
        Ok(bytes) => Ok(bytes),
        Err(e) => Err(explain(text, e)),
    }
}

/// Decode strict base64url into `out` (no allocation): the decoded length,
/// or `None` when `text` is not strict base64url or does not fit; the
/// caller then asks [`decode`] for the reason.
pub fn decode_into(text: &str, out: &mut [u8]) -> Option<usize> {
    URL_SAFE_NO_PAD.decode_slice(text, out).ok()
}

/// The error of `text`, which the engine rejected with `e`: the first
/// character outside the alphabet, else a 4n+1 length, else the engine's own.
fn explain(text: &str, e: base64::DecodeError) -> B64Error {
    if let Some(offset) = text
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        let ch = text
            .get(offset..)
            .and_then(|t| t.chars().next())
            .unwrap_or('?');
        return B64Error::InvalidChar { ch, offset };
    }
    if text.len() % 4 == 1 {
        return B64Error::InvalidLength { len: text.len() };
    }
    match e {
        base64::DecodeError::InvalidLastSymbol(_, _) => B64Error::NonCanonical,
        base64::DecodeError::InvalidLength(len) => B64Error::InvalidLength { len },
        base64::DecodeError::InvalidByte(offset, b) => B64Error::InvalidChar {
            ch: char::from(b),
            offset,
        },
        base64::DecodeError::InvalidPadding => B64Error::InvalidChar { ch: '=', offset: 0 },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// `decode_into` accepts exactly what `decode` accepts, with the same bytes.
    #[test]
    fn decode_into_is_decode_without_a_copy() {
        let sig = encode(&[0xa5u8; 64]);
        let mut buf = [0u8; 66];
        assert_eq!(decode_into(&sig, &mut buf), Some(64));
        assert_eq!(&buf[..64], decode(&sig).unwrap().as_slice());
        let last = sig.len() - 1;
        for bad in [
            format!("{sig}="),
            format!("{}+", &sig[..last]),
            format!("{}B", &sig[..last]), // non-zero trailing bits
            format!("{sig}AAA"),          // 4n+1 characters
        ] {
            assert!(decode(&bad).is_err(), "{bad}");
            assert_eq!(decode_into(&bad, &mut buf), None, "{bad}");
        }
        // Too small a buffer: None, not a panic.
        assert_eq!(decode_into(&sig, &mut [0u8; 10]), None);
    }

    #[test]
    fn round_trip() {
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn rejects_padding() {
        assert!(matches!(
            decode("YQ=="),
            Err(B64Error::InvalidChar { ch: '=', .. })
        ));
    }

    #[test]
    fn rejects_standard_alphabet() {
        assert!(matches!(
            decode("a+b/"),
            Err(B64Error::InvalidChar { ch: '+', offset: 1 })
        ));
    }

    #[test]
    fn rejects_whitespace() {
        assert!(matches!(
            decode("YW Jj"),
            Err(B64Error::InvalidChar { ch: ' ', .. })
        ));
    }

    #[test]
    fn rejects_non_canonical_trailing_bits() {
        // "YQ" is canonical for "a"; "YR" decodes to the same byte with a stray bit set.
        assert_eq!(decode("YQ").unwrap(), b"a");
        assert_eq!(decode("YR"), Err(B64Error::NonCanonical));
    }

    #[test]
    fn rejects_impossible_length() {
        assert_eq!(decode("YWJjZ"), Err(B64Error::InvalidLength { len: 5 }));
    }

    #[test]
    fn rejects_non_ascii() {
        assert!(matches!(
            decode("YWé"),
            Err(B64Error::InvalidChar { ch: 'é', .. })
        ));
    }
}
