//! The memo of chains that validated (ARCHITECTURE.md "Hot path"): a cached
//! chain costs one ECDSA verification a call, and each use re-checks the
//! verification time against the chain's validity and the next CRL update.

use crate::cert::{Certificate, Crl, ValidatedChain};
use std::collections::HashMap;
use std::sync::Arc;

/// Memo of chains that validated, so a cached chain costs its ECDSA path
/// checks once, not on every call. Each use still re-checks the time: an
/// entry applies only while the verification time is inside every
/// certificate's validity and before the earliest `nextUpdate` of the
/// verifier's CRLs and the call's extra CRLs. Extra CRLs (fetched per call)
/// are part of the key, so a new CRL means a full validation. Calls with CRL
/// fetch failures bypass the memo.
#[derive(Debug, Default)]
pub(super) struct ChainMemo {
    map: std::sync::RwLock<HashMap<u64, Vec<Arc<MemoEntry>>>>,
}

#[derive(Debug)]
struct MemoEntry {
    ders: Vec<Vec<u8>>,
    /// The per-call CRLs the validation used (length and signature tail of
    /// each): a different CRL set is a different entry.
    crls: Vec<CrlFingerprint>,
    validated: Arc<ValidatedChain>,
    usable_from: i64,
    usable_until: i64,
}

const CHAIN_MEMO_CAP: usize = 4096;

pub(super) type CrlFingerprint = (usize, Vec<u8>);

/// A CRL is identified by its length and the tail of its signature: a CRL
/// with other content has another signature (and a forged one fails the
/// signature check on the full validation that a new fingerprint triggers).
pub(super) fn crl_fingerprints(crls: &[Crl]) -> Vec<CrlFingerprint> {
    crls.iter()
        .map(|c| {
            let der = c.der();
            (
                der.len(),
                der.get(der.len().saturating_sub(32)..)
                    .unwrap_or(&[])
                    .to_vec(),
            )
        })
        .collect()
}

fn memo_key(chain: &[Certificate], crls: &[CrlFingerprint]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for c in chain {
        let der = c.der();
        der.len().hash(&mut h);
        // The tail of a certificate is its signature: effectively unique.
        der.get(der.len().saturating_sub(32)..).hash(&mut h);
    }
    crls.hash(&mut h);
    h.finish()
}

impl ChainMemo {
    pub(super) fn get(
        &self,
        chain: &[Certificate],
        crls: &[CrlFingerprint],
        now: i64,
    ) -> Option<Arc<ValidatedChain>> {
        let key = memo_key(chain, crls);
        let map = self.map.read().ok()?;
        map.get(&key)?
            .iter()
            .find(|e| {
                e.ders.len() == chain.len()
                    && e.ders
                        .iter()
                        .zip(chain)
                        .all(|(d, c)| d.as_slice() == c.der())
                    && e.crls.as_slice() == crls
            })
            .filter(|e| e.usable_from <= now && now <= e.usable_until)
            .map(|e| e.validated.clone())
    }

    pub(super) fn put(
        &self,
        chain: &[Certificate],
        fingerprints: Vec<CrlFingerprint>,
        validated: Arc<ValidatedChain>,
        crls: &[Crl],
    ) {
        let usable_until = crls
            .iter()
            .filter_map(Crl::next_update)
            .fold(validated.valid_until, i64::min);
        let key = memo_key(chain, &fingerprints);
        let entry = Arc::new(MemoEntry {
            ders: chain.iter().map(|c| c.der().to_vec()).collect(),
            crls: fingerprints,
            usable_from: validated.valid_from,
            usable_until,
            validated,
        });
        if let Ok(mut map) = self.map.write() {
            if map.len() >= CHAIN_MEMO_CAP {
                map.clear();
            }
            let slot = map.entry(key).or_default();
            slot.retain(|e| e.ders != entry.ders || e.crls != entry.crls);
            slot.push(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use crate::cert::Crl;
    use crate::verify::test_lab::{lab, pending, Lab, NOW};
    use crate::Limits;

    fn crl(lab: &Lab, revoked: &[u64]) -> Crl {
        let pem = lab.pki.issue_crl(revoked, NOW - 60, NOW + 3600).unwrap();
        Crl::from_pem_or_der(pem.as_bytes(), &Limits::default()).unwrap()
    }

    #[test]
    fn memo_never_serves_a_pass_across_a_new_crl() {
        let lab = lab();
        let empty = crl(&lab, &[]);
        let revoking = crl(&lab, &[lab.serial]);
        // Twice with the empty CRL: the second call is a memo hit.
        for origid in ["a", "b"] {
            let p = pending(&lab, origid);
            lab.verifier
                .complete_with_crls(p, Ok(&lab.chain), NOW, std::slice::from_ref(&empty), &[])
                .unwrap();
        }
        // A new CRL that revokes the leaf: never the memoised pass.
        let p = pending(&lab, "c");
        let err = lab
            .verifier
            .complete_with_crls(p, Ok(&lab.chain), NOW, std::slice::from_ref(&revoking), &[])
            .unwrap_err();
        assert_eq!(err.error.full_id(), "cert-revoked", "{}", err.error);
        // And without CRLs the chain memo still applies on its own key.
        let p = pending(&lab, "d");
        lab.verifier.complete(p, Ok(&lab.chain), NOW).unwrap();
    }

    #[test]
    fn memo_rechecks_the_time() {
        let lab = lab();
        let p = pending(&lab, "a");
        lab.verifier.complete(p, Ok(&lab.chain), NOW).unwrap();
        // The leaf expires at NOW + 3600: a memoised chain must not outlive it.
        let p = pending(&lab, "b");
        let err = lab
            .verifier
            .complete(p, Ok(&lab.chain), NOW + 7200)
            .unwrap_err();
        assert_eq!(err.error.full_id(), "cert-expired", "{}", err.error);
    }
}
