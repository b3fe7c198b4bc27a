//! Replay detection: a bounded store of recently verified PASSporTs.
//!
//! Keyed by SHA-256 of `header.payload` as received (which includes `origid`
//! and `iat`), never by the signature: ECDSA signatures are malleable, so
//! `(r, n-s)` would otherwise slip past as a "new" token. Entries live as
//! long as the freshness window (after that `iat` makes the token stale
//! anyway). The same PASSporT arriving again with the same Call-ID is a
//! forked INVITE, not a replay. Only PASSporTs that verified are recorded, so
//! a forged copy can never block the real call. (A store asked before the
//! signature is checked, Redis, keys by the signature too: see
//! [`ReplayGuard::begin`].)
//!
//! The clock is passed in; the store never reads it.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

const SHARDS: usize = 16;

/// 16 bytes of key (a 128-bit prefix of SHA-256: collisions are out of
/// reach), 8 of time, 8 of Call-ID hash: about 40 bytes an entry with the
/// table's overhead, so a million live PASSporTs fit in ~40 MiB.
#[derive(Debug, Clone, Copy)]
struct Entry {
    first_seen: i64,
    /// 64-bit hash of the Call-ID; 0 when unknown.
    call_id: u64,
}

fn call_id_hash(call_id: Option<&str>) -> u64 {
    match call_id {
        None => 0,
        Some(c) => {
            let d = Sha256::digest(c.as_bytes());
            let mut b = [0u8; 8];
            b.copy_from_slice(d.get(..8).unwrap_or(&[1u8; 8]));
            u64::from_le_bytes(b).max(1)
        }
    }
}

/// A replay was detected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("PASSporT first seen {age} s ago with Call-ID {first_call_id}")]
pub struct Replayed {
    /// Seconds since the PASSporT was first verified.
    pub age: i64,
    /// How the first call is identified: "a different Call-ID" or
    /// "an unknown Call-ID" (the store keeps a hash, not the Call-ID itself).
    pub first_call_id: String,
}

/// The verdict of a [`ReplayGuard`] on a verified PASSporT, with the two
/// outcomes of a shared store that may not answer (Redis).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayCheck {
    /// First seen now (recorded), or seen before for the same call (a fork).
    Fresh,
    /// Already verified for another call within the window.
    Replayed(Replayed),
    /// Not checked across the fleet (the store did not answer), and the
    /// policy lets the call pass: the warning goes into the result.
    Unchecked {
        /// The sentence for the result's warnings.
        warning: String,
    },
    /// Not checked, and the policy refuses the call (`replay-unavailable`).
    Unavailable {
        /// What failed.
        detail: String,
    },
}

/// Where a verifier records the PASSporTs it verified, to catch replays.
/// [`ReplayStore`] is the in-process one; `replay_dir::DirReplayStore`
/// is shared by the processes of one host (pre-forked SIP servers); an
/// integrator can put one in front of a shared cache of their own.
pub trait ReplayGuard: Send + Sync + std::fmt::Debug {
    /// Record a verified PASSporT (`signing_input` = `header.payload`) seen at
    /// `now` with `call_id`. `Err` if the same PASSporT was already verified
    /// within the window for a different (or unknown) Call-ID.
    fn check_and_record(
        &self,
        signing_input: &str,
        call_id: Option<&str>,
        now: i64,
    ) -> Result<(), Replayed>;

    /// [`check_and_record`](Self::check_and_record) with the verdicts of a
    /// store that can fail ([`ReplayCheck::Unchecked`],
    /// [`ReplayCheck::Unavailable`]); the verifier calls this one. The
    /// default maps `check_and_record`.
    fn check(&self, signing_input: &str, call_id: Option<&str>, now: i64) -> ReplayCheck {
        match self.check_and_record(signing_input, call_id, now) {
            Ok(()) => ReplayCheck::Fresh,
            Err(r) => ReplayCheck::Replayed(r),
        }
    }

    /// [`check`](Self::check), with `digest` = SHA-256 of `signing_input`,
    /// which the verifier has taken for the signature: a store keyed by it
    /// (the in-process one) need not hash the signed bytes again. The
    /// default ignores it.
    #[doc(hidden)]
    fn check_prehashed(
        &self,
        signing_input: &str,
        digest: &[u8],
        call_id: Option<&str>,
        now: i64,
    ) -> ReplayCheck {
        let _ = digest;
        self.check(signing_input, call_id, now)
    }

    /// Start the check before the signature is verified, for a store that
    /// answers over the network: it sends its request now and
    /// [`ReplayInFlight::finish`] reads the answer, which arrives while the
    /// signature is checked (no wait, no thread sleep on the common path).
    /// `None` (the default): the verifier calls [`check`](Self::check) after
    /// the signature. A store that starts early records the PASSporT even
    /// when its signature then fails; such a token can only block a copy of
    /// its own bytes, which a genuine call would have to have sent already.
    ///
    /// `signature` is the token's raw `r || s`: such a store keys the
    /// PASSporT by its signed bytes *and* its signature with `s` made low
    /// (SHA-256 of both), so a copy whose signature is then found
    /// forged is recorded under a key no genuine token has, and a copy with
    /// the malleated `(r, n-s)` still meets the original.
    fn begin<'a>(
        &'a self,
        _signing_input: &str,
        _signature: &[u8],
        _call_id: Option<&str>,
        _now: i64,
    ) -> Option<Box<dyn ReplayInFlight + 'a>> {
        None
    }

    /// The check of a PASSporT whose signature verified, awaited instead of
    /// blocking the thread: an async service (`shaken serve`) awaits it, so
    /// its worker verifies other calls while Redis answers. Keyed like
    /// [`begin`](Self::begin). `None` (the default, or not inside a runtime
    /// this store can use): the caller runs `begin` then `finish`, or
    /// [`check`](Self::check).
    fn check_async<'a>(
        &'a self,
        _signing_input: &'a str,
        _signature: &'a [u8],
        _call_id: Option<&'a str>,
        _now: i64,
    ) -> Option<ReplayFuture<'a>> {
        None
    }

    /// Whether [`check_async`](Self::check_async) may answer.
    fn is_async(&self) -> bool {
        false
    }
}

/// The verdict of `guard` on a PASSporT verified without it: awaited when
/// the guard answers asynchronously, else on the calling thread.
#[cfg(feature = "server")]
pub(crate) async fn check_verified(
    guard: &dyn ReplayGuard,
    v: &crate::verify::VerifiedPassport,
    call_id: Option<&str>,
    now: i64,
) -> ReplayCheck {
    match guard.check_async(&v.signing_input, &v.signature, call_id, now) {
        Some(f) => f.await,
        None => check_now(guard, &v.signing_input, &v.signature, call_id, now),
    }
}

/// The verdict of `guard` on a verified PASSporT, on the calling thread:
/// [`ReplayGuard::begin`] then `finish`, else [`ReplayGuard::check`].
#[cfg(feature = "server")]
pub(crate) fn check_now(
    guard: &dyn ReplayGuard,
    signing_input: &str,
    signature: &[u8],
    call_id: Option<&str>,
    now: i64,
) -> ReplayCheck {
    match guard.begin(signing_input, signature, call_id, now) {
        Some(f) => f.finish(),
        None => guard.check(signing_input, call_id, now),
    }
}

/// The answer of [`ReplayGuard::check_async`].
pub type ReplayFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = ReplayCheck> + Send + 'a>>;

/// A replay check started by [`ReplayGuard::begin`]. Dropping it without
/// [`finish`](Self::finish) (the signature failed) settles the request.
pub trait ReplayInFlight: Send {
    /// The verdict.
    fn finish(self: Box<Self>) -> ReplayCheck;
}

impl ReplayGuard for ReplayStore {
    fn check_and_record(
        &self,
        signing_input: &str,
        call_id: Option<&str>,
        now: i64,
    ) -> Result<(), Replayed> {
        ReplayStore::check_and_record(self, signing_input, call_id, now)
    }

    fn check_prehashed(
        &self,
        signing_input: &str,
        digest: &[u8],
        call_id: Option<&str>,
        now: i64,
    ) -> ReplayCheck {
        let result = match key_of_digest(digest) {
            Some(key) => self.record(key, call_id, now),
            None => ReplayStore::check_and_record(self, signing_input, call_id, now),
        };
        match result {
            Ok(()) => ReplayCheck::Fresh,
            Err(r) => ReplayCheck::Replayed(r),
        }
    }
}

/// [`replay_key`] from the SHA-256 of the signed bytes (`None` unless 32 bytes).
fn key_of_digest(digest: &[u8]) -> Option<u128> {
    if digest.len() != 32 {
        return None;
    }
    let mut k = [0u8; 16];
    k.copy_from_slice(digest.get(..16)?);
    Some(u128::from_le_bytes(k))
}

/// The 128-bit replay key of a PASSporT for a store asked before its
/// signature is verified ([`ReplayGuard::begin`]): a prefix of SHA-256 of
/// the signed bytes, a zero byte and the signature with `s` normalised to
/// the low half (`n - s` when `s > n/2`), so `(r, s)` and `(r, n-s)` meet.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn replay_key_signed(signing_input: &str, signature: &[u8]) -> [u8; 16] {
    let low = p256::ecdsa::Signature::from_slice(signature)
        .ok()
        .map(|sig| sig.normalize_s().unwrap_or(sig).to_bytes());
    let mut h = Sha256::new();
    h.update(signing_input.as_bytes());
    h.update([0u8]);
    match &low {
        Some(b) => h.update(&b[..]),
        None => h.update(signature),
    }
    let digest = h.finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    k
}

/// The 128-bit replay key of a PASSporT: a prefix of SHA-256 of the signed
/// bytes (`header.payload`), never of the signature.
pub(crate) fn replay_key(signing_input: &str) -> [u8; 16] {
    let digest = Sha256::digest(signing_input.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    k
}

/// The stored form of a Call-ID (0 = unknown).
#[cfg_attr(not(any(feature = "replay-dir", feature = "redis")), allow(dead_code))]
pub(crate) fn call_id_key(call_id: Option<&str>) -> u64 {
    call_id_hash(call_id)
}

/// The verdict on a PASSporT seen before at `first_seen` for Call-ID hash
/// `first_call`, now seen at `now` for `call`: `None` when it no longer
/// counts (older than `ttl`) or is the same call (a fork).
pub(crate) fn judge(
    first_seen: i64,
    first_call: u64,
    call: u64,
    now: i64,
    ttl: i64,
) -> Option<Replayed> {
    if now.saturating_sub(first_seen) > ttl || (call != 0 && first_call == call) {
        return None;
    }
    Some(Replayed {
        age: now.saturating_sub(first_seen),
        first_call_id: if first_call == 0 {
            "an unknown Call-ID".into()
        } else {
            "a different Call-ID".into()
        },
    })
}

/// A bounded, sharded store of recently verified PASSporTs. Share it with `Arc`.
#[derive(Debug)]
pub struct ReplayStore {
    shards: Vec<Mutex<HashMap<u128, Entry>>>,
    ttl: i64,
    capacity_per_shard: usize,
}

/// Removes the `count` entries first seen longest ago.
fn evict_oldest(map: &mut HashMap<u128, Entry>, count: usize) {
    let mut ages: Vec<(i64, u128)> = map.iter().map(|(k, e)| (e.first_seen, *k)).collect();
    if count < ages.len() {
        ages.select_nth_unstable(count);
        ages.truncate(count);
    }
    for (_, key) in ages {
        map.remove(&key);
    }
}

/// The entries a verifier's own store holds: every PASSporT of a two-minute
/// window (`max-age` 60 plus the future allowance, each entry kept for both)
/// at 10,000 calls a second, with room to spare, in about 77 MiB
/// (`examples/replay_memory`, BENCHMARKS.md issue 21). With 1,000,000 a node
/// at that rate forgot about a fifth of the window's PASSporTs.
pub(crate) const DEFAULT_CAPACITY: usize = 1_800_000;

impl ReplayStore {
    /// A store keeping entries for `ttl_seconds` (use the freshness window,
    /// past plus future) and at most `capacity` entries.
    pub fn new(ttl_seconds: i64, capacity: usize) -> Self {
        ReplayStore {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            ttl: ttl_seconds.max(1),
            capacity_per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Record a verified PASSporT (`signing_input` = `header.payload`) seen at
    /// `now` with `call_id`. Returns `Err` if the same PASSporT was already
    /// verified within the TTL for a different (or unknown) Call-ID.
    pub fn check_and_record(
        &self,
        signing_input: &str,
        call_id: Option<&str>,
        now: i64,
    ) -> Result<(), Replayed> {
        self.record(u128::from_le_bytes(replay_key(signing_input)), call_id, now)
    }

    /// [`check_and_record`](Self::check_and_record) of the PASSporT whose
    /// replay key is `key`.
    fn record(&self, key: u128, call_id: Option<&str>, now: i64) -> Result<(), Replayed> {
        let shard = (key % SHARDS as u128) as usize;
        let call = call_id_hash(call_id);
        let Some(shard) = self.shards.get(shard) else {
            return Ok(());
        };
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = Entry {
            first_seen: now,
            call_id: call,
        };
        if map.len() < self.capacity_per_shard {
            // One probe of the table for the look-up and the insert (the
            // common case: a new PASSporT in a store with room).
            match map.entry(key) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(fresh);
                }
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    if let Some(verdict) = self.verdict_on(o.get(), call, now) {
                        return verdict;
                    }
                    o.insert(fresh);
                }
            }
            self.shrink_if_oversized(&mut map);
            return Ok(());
        }
        if let Some(verdict) = map.get(&key).and_then(|e| self.verdict_on(e, call, now)) {
            return verdict;
        }
        // The shard is full: drop what expired first.
        let ttl = self.ttl;
        map.retain(|_, e| now.saturating_sub(e.first_seen) <= ttl);
        if map.len() >= self.capacity_per_shard {
            // Still full of live entries: drop the oldest sixteenth at
            // once. One scan per insert (as dropping only the oldest did)
            // made a full store take ~2,300 inserts a second (issue 21,
            // examples/replay_memory.rs); one per capacity / 16 inserts
            // keeps it at the speed of an empty one, for a window shortened
            // by at most a sixteenth.
            evict_oldest(&mut map, (self.capacity_per_shard / 16).max(1));
        }
        map.insert(key, fresh);
        self.shrink_if_oversized(&mut map);
        Ok(())
    }

    /// The verdict on a PASSporT already held as `e`, seen again at `now`
    /// for Call-ID hash `call`; `None` when `e` has expired (it is replaced).
    fn verdict_on(&self, e: &Entry, call: u64, now: i64) -> Option<Result<(), Replayed>> {
        if now.saturating_sub(e.first_seen) > self.ttl {
            return None;
        }
        // A forked INVITE carries the same Identity and Call-ID.
        Some(match judge(e.first_seen, e.call_id, call, now, self.ttl) {
            None => Ok(()),
            Some(r) => Err(r),
        })
    }

    fn shrink_if_oversized(&self, map: &mut HashMap<u128, Entry>) {
        // A table sized for its entries holds at most twice as many. Past
        // that it doubled: removals leave tombstones, and a full shard's
        // table is rebuilt at twice the size when they use up its room,
        // although it never holds more than its capacity. Rebuilt to size
        // at once, one shard at a time, the store keeps to about 33 bytes
        // an entry (10,000 calls/s for a 120 s window: 70 MiB, not 138;
        // issue 21, examples/replay_memory.rs).
        let cap = self.capacity_per_shard;
        if cap >= 64 && map.capacity() > cap.saturating_mul(2) {
            map.shrink_to(cap);
        }
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// The key of a store asked before the signature is verified: the
    /// malleated `(r, n-s)` meets `(r, s)`; another signature (a forged
    /// copy) or other signed bytes do not.
    #[test]
    fn signed_replay_key_meets_the_malleated_signature_only() {
        use p256::ecdsa::signature::Signer as _;
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let input = "eyJhbGciOiJFUzI1NiJ9.eyJpYXQiOjF9";
        let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
        let (r, s) = sig.split_scalars();
        let flipped = p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        let a = replay_key_signed(input, &sig.to_bytes());
        assert_eq!(a, replay_key_signed(input, &flipped.to_bytes()));
        let mut forged = sig.to_bytes();
        forged[40] ^= 1;
        assert_ne!(a, replay_key_signed(input, &forged));
        assert_ne!(
            a,
            replay_key_signed("eyJhbGciOiJFUzI1NiJ9.eyJpYXQiOjJ9", &sig.to_bytes())
        );
        // Not a signature at all (s = 0): keyed by its bytes, no panic.
        assert_ne!(a, replay_key_signed(input, &[0u8; 64]));
        assert_ne!(a, replay_key(input));
    }

    /// The digest the verifier hands over keys the PASSporT as its signed
    /// bytes do: a call recorded one way is a replay the other way, and a
    /// digest that is not 32 bytes falls back to hashing the bytes.
    #[test]
    fn prehashed_check_keys_as_the_signed_bytes() {
        let input = "eyJhbGciOiJFUzI1NiJ9.eyJpYXQiOjF9";
        let digest = crate::crypto::Prehashed::of(input.as_bytes());
        let store = ReplayStore::new(60, 1000);
        assert_eq!(
            store.check_prehashed(input, digest.bytes(), Some("call-1"), 100),
            ReplayCheck::Fresh
        );
        assert!(store.check_and_record(input, Some("call-2"), 101).is_err());
        assert!(matches!(
            store.check_prehashed(input, digest.bytes(), Some("call-3"), 102),
            ReplayCheck::Replayed(_)
        ));
        // The same call again (a fork) is not a replay.
        assert_eq!(
            store.check_prehashed(input, digest.bytes(), Some("call-1"), 103),
            ReplayCheck::Fresh
        );
        let other = "eyJhbGciOiJFUzI1NiJ9.eyJpYXQiOjJ9";
        store.check_and_record(other, Some("call-4"), 104).unwrap();
        assert!(matches!(
            store.check_prehashed(other, b"short", Some("call-5"), 105),
            ReplayCheck::Replayed(_)
        ));
    }

    #[test]
    fn second_call_is_a_replay() {
        let s = ReplayStore::new(120, 100);
        s.check_and_record("h.p", Some("call-1"), 1000).unwrap();
        let e = s.check_and_record("h.p", Some("call-2"), 1010).unwrap_err();
        assert_eq!(e.age, 10);
        assert_eq!(e.first_call_id, "a different Call-ID");
    }

    #[test]
    fn fork_with_same_call_id_is_not_a_replay() {
        let s = ReplayStore::new(120, 100);
        s.check_and_record("h.p", Some("call-1"), 1000).unwrap();
        s.check_and_record("h.p", Some("call-1"), 1001).unwrap();
    }

    #[test]
    fn unknown_call_id_counts_as_replay() {
        let s = ReplayStore::new(120, 100);
        s.check_and_record("h.p", None, 1000).unwrap();
        assert!(s.check_and_record("h.p", None, 1001).is_err());
    }

    #[test]
    fn expires_after_ttl() {
        let s = ReplayStore::new(120, 100);
        s.check_and_record("h.p", Some("a"), 1000).unwrap();
        s.check_and_record("h.p", Some("b"), 1121).unwrap();
    }

    #[test]
    fn bounded() {
        let s = ReplayStore::new(1000, 32);
        for i in 0..1000 {
            s.check_and_record(&format!("t{i}"), None, 5).unwrap();
        }
        assert!(s.len() <= 32 + SHARDS, "{}", s.len());
    }

    /// Full of live entries, the store drops the oldest (a sixteenth of a
    /// shard at a time) and keeps catching replays of the newest.
    #[test]
    fn full_of_live_entries_the_oldest_go() {
        let s = ReplayStore::new(1_000_000, 64 * SHARDS);
        for i in 0..5000 {
            s.check_and_record(&format!("t{i}"), None, i).unwrap();
        }
        assert!(s.len() <= 64 * SHARDS, "{}", s.len());
        for i in 4700..5000 {
            assert!(
                s.check_and_record(&format!("t{i}"), None, 5000).is_err(),
                "t{i} was one of the newest"
            );
        }
        for i in 0..100 {
            s.check_and_record(&format!("t{i}"), None, 5000).unwrap();
        }
    }

    /// Churn (entries expiring and replaced) never grows a shard's table
    /// past what its capacity needs.
    #[test]
    fn churn_keeps_the_tables_at_their_size() {
        let per_shard = 5000;
        let s = ReplayStore::new(10, per_shard * SHARDS);
        let mut n = 0u64;
        for now in 0..60 {
            for _ in 0..(per_shard * SHARDS / 8) {
                s.check_and_record(&format!("t{n}"), None, now).unwrap();
                n += 1;
            }
        }
        for shard in &s.shards {
            let map = shard.lock().unwrap();
            assert!(map.len() <= per_shard);
            assert!(
                map.capacity() <= 2 * per_shard,
                "a table of {} for {per_shard} entries",
                map.capacity()
            );
        }
    }

    #[test]
    fn evict_oldest_removes_exactly_the_oldest() {
        let mut m: HashMap<u128, Entry> = (0..10u128)
            .map(|k| {
                let e = Entry {
                    first_seen: 100 - k as i64,
                    call_id: 0,
                };
                (k, e)
            })
            .collect();
        evict_oldest(&mut m, 3);
        let mut left: Vec<u128> = m.keys().copied().collect();
        left.sort_unstable();
        assert_eq!(left, [0, 1, 2, 3, 4, 5, 6]);
        evict_oldest(&mut m, 100);
        assert!(m.is_empty());
    }
}
