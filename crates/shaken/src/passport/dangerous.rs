//! Reading claims before the signature is checked. Use for display and
//! diagnosis only (`shaken decode`); never for a decision.

use super::{Claims, ClaimsError, ClaimsPolicy, UnverifiedPassport};
use crate::Limits;
use serde_json::Value;

/// The payload JSON as received, unverified.
pub fn payload_json(p: &UnverifiedPassport) -> &Value {
    p.payload_json()
}

/// The typed claims, unverified.
pub fn claims(
    p: &UnverifiedPassport,
    limits: &Limits,
    policy: &ClaimsPolicy,
) -> Result<Claims, ClaimsError> {
    p.claims(limits, policy)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::passport::dangerous;
    use crate::passport::vectors::*;

    #[test]
    fn t3_signature_verifies_but_string_iat_is_strictly_rejected() {
        let a2 = crate::crypto::public_point_from_pem(A2_PUB).unwrap();
        let t3 = UnverifiedPassport::parse(T3, &limits()).unwrap();
        t3.verify_signature(&a2).unwrap();
        let strict = dangerous::claims(&t3, &limits(), &ClaimsPolicy::default());
        assert!(
            matches!(strict, Err(ClaimsError::IatIsString { .. })),
            "{strict:?}"
        );
        let lenient = dangerous::claims(
            &t3,
            &limits(),
            &ClaimsPolicy {
                lenient_iat_string: true,
            },
        )
        .unwrap();
        assert_eq!(lenient.iat, 1443208345);
        assert!(lenient.iat_was_string);
    }
}
