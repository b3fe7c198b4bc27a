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
/// are part of the key, so a new CRL means a full validation; so is whether
/// the validation was relaxed for a CRL that could not be fetched under the
/// hard policy. A call whose CRL could not be fetched validates with the CRLs
/// it has, like any other call with those CRLs: it uses the memo too (else
/// an unreachable CRL server would multiply the cost of every call).
#[derive(Debug)]
pub(super) struct ChainMemo {
    map: std::sync::RwLock<HashMap<u64, Vec<Arc<MemoEntry>>>>,
    /// Most keys held ([`CHAIN_MEMO_CAP`]; smaller in tests).
    cap: usize,
    /// Insertion counter (the age of an entry, for eviction).
    seq: std::sync::atomic::AtomicU64,
    /// Lookups answered from the memo.
    hits: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
struct MemoEntry {
    ders: Vec<Vec<u8>>,
    /// The per-call CRLs the validation used (length and signature tail of
    /// each): a different CRL set is a different entry.
    crls: Vec<CrlFingerprint>,
    /// Validated without requiring CRL coverage (a CRL was missing under
    /// the hard policy).
    relaxed: bool,
    validated: Arc<ValidatedChain>,
    /// When it was put (insertion order).
    seq: u64,
    usable_from: i64,
    usable_until: i64,
}

/// Most chains memoised: more than the certificate cache holds (10,000 by
/// default), so that every signer the cache knows stays at one ECDSA check a
/// call. Past it the oldest eighth is forgotten, never the whole memo (a
/// memo that starts over whenever it is full misses on every call once the
/// active signers outnumber it: 3.5x the CPU a call, measured).
const CHAIN_MEMO_CAP: usize = 16_384;

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

fn memo_key(chain: &[Certificate], crls: &[CrlFingerprint], relaxed: bool) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    relaxed.hash(&mut h);
    for c in chain {
        let der = c.der();
        der.len().hash(&mut h);
        // The tail of a certificate is its signature: effectively unique.
        der.get(der.len().saturating_sub(32)..).hash(&mut h);
    }
    crls.hash(&mut h);
    h.finish()
}

impl Default for ChainMemo {
    fn default() -> Self {
        ChainMemo {
            map: std::sync::RwLock::default(),
            cap: CHAIN_MEMO_CAP,
            seq: std::sync::atomic::AtomicU64::new(0),
            hits: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl ChainMemo {
    /// A memo holding at most `cap` keys.
    #[cfg(test)]
    pub(super) fn with_cap(cap: usize) -> Self {
        ChainMemo {
            cap,
            ..ChainMemo::default()
        }
    }

    pub(super) fn get(
        &self,
        chain: &[Certificate],
        crls: &[CrlFingerprint],
        relaxed: bool,
        now: i64,
    ) -> Option<Arc<ValidatedChain>> {
        let key = memo_key(chain, crls, relaxed);
        let map = self.map.read().ok()?;
        let hit = map
            .get(&key)?
            .iter()
            .find(|e| {
                e.relaxed == relaxed
                    && e.ders.len() == chain.len()
                    && e.ders
                        .iter()
                        .zip(chain)
                        .all(|(d, c)| d.as_slice() == c.der())
                    && e.crls.as_slice() == crls
            })
            .filter(|e| e.usable_from <= now && now <= e.usable_until)
            .map(|e| e.validated.clone());
        if hit.is_some() {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        hit
    }

    /// Lookups answered from the memo so far.
    #[cfg(test)]
    pub(super) fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn put(
        &self,
        chain: &[Certificate],
        fingerprints: Vec<CrlFingerprint>,
        relaxed: bool,
        validated: Arc<ValidatedChain>,
        crls: &[Crl],
    ) {
        let usable_until = crls
            .iter()
            .filter_map(Crl::next_update)
            .fold(validated.valid_until, i64::min);
        let key = memo_key(chain, &fingerprints, relaxed);
        let entry = Arc::new(MemoEntry {
            ders: chain.iter().map(|c| c.der().to_vec()).collect(),
            crls: fingerprints,
            relaxed,
            seq: self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            usable_from: validated.valid_from,
            usable_until,
            validated,
        });
        if let Ok(mut map) = self.map.write() {
            if map.len() >= self.cap && !map.contains_key(&key) {
                evict_oldest(&mut map, (self.cap / 8).max(1));
            }
            let slot = map.entry(key).or_default();
            slot.retain(|e| {
                e.ders != entry.ders || e.crls != entry.crls || e.relaxed != entry.relaxed
            });
            slot.push(entry);
        }
    }
}

/// Forget about `n` of the oldest entries (whole keys, by their newest
/// entry's age). Runs once per `n` insertions past the cap.
fn evict_oldest(map: &mut HashMap<u64, Vec<Arc<MemoEntry>>>, n: usize) {
    let mut ages: Vec<u64> = map
        .values()
        .map(|slot| slot.iter().map(|e| e.seq).max().unwrap_or(0))
        .collect();
    if n == 0 || ages.is_empty() {
        return;
    }
    let cut = n.min(ages.len()) - 1;
    let (_, &mut threshold, _) = ages.select_nth_unstable(cut);
    map.retain(|_, slot| slot.iter().map(|e| e.seq).max().unwrap_or(0) > threshold);
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

    fn unreachable() -> Vec<crate::verify::CrlFailure> {
        vec![crate::verify::CrlFailure {
            url: "http://127.0.0.1:9/crl.pem".into(),
            detail: "fetch-connect (refused)".into(),
        }]
    }

    /// An unreachable CRL server must not make every call validate its
    /// chain again: the call validates with the CRLs it has, from the memo.
    #[test]
    fn a_call_whose_crl_could_not_be_fetched_uses_the_memo() {
        let lab = lab();
        for (i, origid) in ["a", "b", "c"].into_iter().enumerate() {
            let p = pending(&lab, origid);
            let ok = lab
                .verifier
                .complete_with_crls(p, Ok(&lab.chain), NOW, &[], &unreachable())
                .unwrap();
            assert!(
                ok.warnings
                    .iter()
                    .any(|w| w.contains("could not be obtained")),
                "{:?}",
                ok.warnings
            );
            assert_eq!(lab.verifier.memo_hits(), i as u64, "call {origid}");
        }
    }

    /// Under the hard policy a missing CRL relaxes the validation (so that
    /// the error can name the CRL): that relaxed result is memoised on its
    /// own key and never serves a call that must be covered by a CRL.
    #[test]
    fn a_relaxed_validation_never_serves_a_call_under_the_full_policy() {
        let mut lab = lab();
        let mut policy = crate::verify::VerifyPolicy::default();
        policy.chain.crl_required = true;
        lab.verifier = lab.verifier.with_policy(policy);
        for (i, origid) in ["a", "b"].into_iter().enumerate() {
            let err = lab
                .verifier
                .complete_with_crls(
                    pending(&lab, origid),
                    Ok(&lab.chain),
                    NOW,
                    &[],
                    &unreachable(),
                )
                .unwrap_err();
            assert_eq!(err.error.full_id(), "crl-unavailable", "{}", err.error);
            assert_eq!(lab.verifier.memo_hits(), i as u64);
        }
        // The same chain, no CRL missing and none given: not covered.
        let err = lab
            .verifier
            .complete_with_crls(pending(&lab, "c"), Ok(&lab.chain), NOW, &[], &[])
            .unwrap_err();
        assert_eq!(
            err.error.full_id(),
            "cert-revocation-unknown",
            "{}",
            err.error
        );
        assert_eq!(lab.verifier.memo_hits(), 1, "not from the relaxed entry");
    }

    /// A full memo forgets its oldest chains, not all of them: with more
    /// active signers than it holds, the most recent ones still hit.
    #[test]
    fn a_full_memo_forgets_only_its_oldest_chains() {
        use crate::cert::parse_chain;
        use crate::identity::IdentityHeader;
        use crate::passport::{sign, Attestation, Claims, Header};
        use crate::pki::LeafOptions;
        let mut lab = lab();
        lab.verifier = lab.verifier.with_memo(super::ChainMemo::with_cap(8));
        let signers: Vec<_> = (0..9u64)
            .map(|i| {
                let mut lo = LeafOptions::new(NOW - 3600, NOW + 3600);
                lo.serial = Some(0x5000 + i);
                let leaf = lab.pki.issue_leaf(&lo).unwrap();
                let chain = parse_chain(
                    format!("{}{}", leaf.cert_pem, lab.pki.ca.cert_pem).as_bytes(),
                    &Limits::default(),
                )
                .unwrap();
                let claims = Claims::shaken(
                    Attestation::A,
                    "12155550121",
                    vec!["12125550143".into()],
                    NOW,
                    "x",
                );
                let key = crate::crypto::KeySigner::from_pem(&leaf.key_pem).unwrap();
                let x5u = "https://cr.example.net/sp.pem";
                let token = sign(&Header::shaken(x5u), &claims, &key).unwrap();
                (chain, IdentityHeader::shaken(token, x5u))
            })
            .collect();
        let call = |i: usize| {
            let (chain, id) = &signers[i];
            let p = lab
                .verifier
                .prepare(id, &crate::verify::CallContext::at(NOW))
                .unwrap();
            lab.verifier.complete(p, Ok(chain), NOW).unwrap();
        };
        (0..9).for_each(call); // the ninth chain evicts the first
        assert_eq!(lab.verifier.memo_hits(), 0);
        (1..9).for_each(call);
        assert_eq!(lab.verifier.memo_hits(), 8, "the eight newest stayed");
        call(0);
        assert_eq!(lab.verifier.memo_hits(), 8, "the oldest was forgotten");
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
