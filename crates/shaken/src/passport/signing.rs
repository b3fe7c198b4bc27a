//! Building and signing a full-form PASSporT with the deterministic JSON of
//! RFC 8225 §9, through the [`Signer`] trait (a key, an HSM, a KMS).

use super::{Claims, Header, ALG_ES256};
use crate::b64;
use crate::crypto::Signer;
use crate::json::canonical;

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The key or signer failed.
    #[error(transparent)]
    Key(#[from] crate::crypto::KeyError),
    /// The header is not one we sign.
    #[error("refusing to sign with alg {0:?}: only ES256 is supported")]
    Alg(String),
}

/// Signing is not verification: no SIP code, no verstat.
impl crate::diagnostic::Diagnostic for SignError {
    fn id(&self) -> &'static str {
        match self {
            SignError::Key(_) => "sign-key-failed",
            SignError::Alg(_) => "sign-alg-unsupported",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

/// A header already encoded as its token segment
/// (`BASE64URL(canonical JSON)`): a signer that uses one header for every
/// call (one key, one x5u) encodes it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedHeader(String);

impl EncodedHeader {
    /// Encode `header` (ES256 only).
    pub fn new(header: &Header) -> Result<Self, SignError> {
        if header.alg != ALG_ES256 {
            return Err(SignError::Alg(header.alg.clone()));
        }
        Ok(EncodedHeader(b64::encode(
            canonical(&header.to_json()).as_bytes(),
        )))
    }
    /// The base64url segment.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// [`sign`] with a pre-encoded header: the same token, less work per call.
pub fn sign_encoded(
    header: &EncodedHeader,
    claims: &Claims,
    signer: &dyn Signer,
) -> Result<String, SignError> {
    Unsigned::new(header, claims).sign(signer)
}

/// A token up to its signature: `header.payload`, both parts in the
/// deterministic form of RFC 8225 §9. [`sign_encoded`] is
/// `Unsigned::new(..).sign(..)`; a bulk signer (`sign --batch`) builds the
/// signing inputs of many calls first and then signs them back to back, so
/// that the ES256 work keeps the core's caches to itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned(String);

impl Unsigned {
    /// The signing input of `claims` under `header`.
    pub fn new(header: &EncodedHeader, claims: &Claims) -> Unsigned {
        let payload = claims.to_canonical_json();
        // header '.' payload '.' signature, base64url-encoded into one
        // buffer with room for the signature.
        let mut token = String::with_capacity(header.0.len() + payload.len() * 4 / 3 + 92);
        token.push_str(&header.0);
        token.push('.');
        b64::encode_into(payload.as_bytes(), &mut token);
        Unsigned(token)
    }

    /// The bytes the signature covers (`header.payload`).
    pub fn signing_input(&self) -> &str {
        &self.0
    }

    /// Sign: the full-form token `header.payload.signature`.
    pub fn sign(self, signer: &dyn Signer) -> Result<String, SignError> {
        let mut token = self.0;
        let sig = signer.sign_es256(token.as_bytes())?;
        token.push('.');
        b64::encode_into(&sig, &mut token);
        Ok(token)
    }
}

/// Sign `claims` under `header` and return the full-form token
/// `header.payload.signature`, with both JSON parts in the deterministic form
/// of RFC 8225 §9.
pub fn sign(header: &Header, claims: &Claims, signer: &dyn Signer) -> Result<String, SignError> {
    sign_encoded(&EncodedHeader::new(header)?, claims, signer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::crypto::DeterministicSigner;
    use crate::passport::vectors::*;
    use crate::passport::{Attestation, Claims, Header};

    #[test]
    fn t5_deterministic_signatures_reproduce() {
        let signer = DeterministicSigner::from_pem(A1_KEY).unwrap();
        assert_eq!(
            sign(&baseline_header(), &baseline_claims(), &signer).unwrap(),
            T5_BASELINE
        );
        let claims = Claims::shaken(
            Attestation::A,
            "12155550121",
            vec!["12155550131".into()],
            1443208345,
            "123e4567-e89b-12d3-a456-426655440000",
        );
        assert_eq!(
            sign(&Header::shaken(X5U), &claims, &signer).unwrap(),
            T5_SHAKEN
        );
    }

    /// The two halves of `sign_encoded`, apart: the T5 vector's token, its
    /// signing input the token up to the last dot.
    #[test]
    fn unsigned_then_signed_is_the_same_token() {
        let signer = DeterministicSigner::from_pem(A1_KEY).unwrap();
        let h = EncodedHeader::new(&baseline_header()).unwrap();
        let unsigned = Unsigned::new(&h, &baseline_claims());
        let (input, _) = T5_BASELINE.rsplit_once('.').unwrap();
        assert_eq!(unsigned.signing_input(), input);
        assert_eq!(unsigned.sign(&signer).unwrap(), T5_BASELINE);
    }

    #[test]
    fn encoded_header_signs_the_same_token() {
        let signer = DeterministicSigner::from_pem(A1_KEY).unwrap();
        let h = EncodedHeader::new(&baseline_header()).unwrap();
        assert_eq!(
            sign_encoded(&h, &baseline_claims(), &signer).unwrap(),
            T5_BASELINE
        );
        let mut bad = baseline_header();
        bad.alg = "HS256".into();
        assert!(matches!(EncodedHeader::new(&bad), Err(SignError::Alg(_))));
    }
}
