//! PASSporT (RFC 8225) with the SHAKEN extension (RFC 8588).
//!
//! - [`Token::parse`] splits and strictly decodes a token: strict base64url,
//!   strict JSON (no duplicate names, bounded depth), a 64-byte raw signature.
//!   The result is an [`UnverifiedPassport`]: its claims are only reachable
//!   through [`dangerous`] until [`crate::verify`] returns a verified value.
//! - [`Header`] and [`Claims`] are the typed views; unknown header parameters
//!   and extension claims are kept, never dropped.
//! - [`sign`] builds a full-form token with the deterministic JSON of RFC 8225 §9.
//! - Verification always runs over the received bytes; JSON is never
//!   re-serialised to verify (only the compact form is rebuilt, see
//!   [`rebuild_compact`]).
//!
//! Where each part lives: `header.rs` (the JOSE header), `claims.rs` (the
//! claims and the attestation level), `jws.rs` (the JWS compact
//! serialisation: decoding, the signature check, the compact form),
//! `signing.rs` (building and signing a token) and `dangerous.rs` (peeking
//! at unverified claims).

#[cfg(test)]
mod agree_tests;
mod claims;
pub mod dangerous;
mod header;
mod jws;
mod signing;
#[cfg(test)]
mod vectors;

pub use claims::{Attestation, Claims, ClaimsError, ClaimsPolicy, Dest, Orig};
pub use header::{Header, HeaderError};
pub(crate) use jws::Decoded;
pub use jws::{rebuild_compact, to_compact, PassportError, Token, UnverifiedPassport};
pub use signing::{sign, sign_encoded, EncodedHeader, SignError, Unsigned};

/// The `ppt` value of SHAKEN PASSporTs (RFC 8588).
pub const PPT_SHAKEN: &str = "shaken";
/// The only algorithm SHAKEN allows.
pub const ALG_ES256: &str = "ES256";
/// The required `typ`.
pub const TYP_PASSPORT: &str = "passport";
