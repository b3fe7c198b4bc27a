//! A cache shared by a fleet of verifiers, behind the local one: fetched
//! x5u chains and CRLs (as the bytes fetched, with their expiry) and the
//! failures of the negative cache. [`CertCache`](super::CertCache) asks it
//! on a local miss, before fetching, and writes what it fetched to it; a
//! claim lets one node fetch while the others wait for its result. The
//! implementation is `fleet::RedisShared` (feature `redis`); any store with
//! expiring keys and an atomic "set if absent" would do.
//!
//! Every method is infallible by contract: a store that cannot answer
//! answers "nothing" (`None`), and the cache then behaves as without it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed, `Send` future (the trait is object-safe).
pub type SharedFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What kind of document a key holds (part of the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SharedKind {
    /// An x5u certificate chain (the PEM fetched).
    X5u,
    /// A CRL (the PEM or DER fetched).
    Crl,
}

impl SharedKind {
    /// `x5u` or `crl`.
    pub fn as_str(self) -> &'static str {
        match self {
            SharedKind::X5u => "x5u",
            SharedKind::Crl => "crl",
        }
    }
}

/// One shared entry; it expires at `expires_at_ms` (Unix milliseconds),
/// the expiry the fetching node derived from `Cache-Control`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SharedEntry {
    /// The body fetched; each reader parses and validates it itself.
    Body {
        /// The bytes as fetched.
        body: Vec<u8>,
        /// Expiry, Unix milliseconds.
        expires_at_ms: u64,
        /// It came from a public address
        /// ([`FetchedBody::from_public_address`](super::FetchedBody::from_public_address)).
        /// A node that refuses private addresses does not take a body
        /// that did not (it fetches the URL itself, through its resolver).
        public: bool,
    },
    /// A failure (negative cache).
    Failure {
        /// The [`FetchError::code`](super::FetchError::code).
        code: String,
        /// Its message.
        detail: String,
        /// Expiry, Unix milliseconds.
        expires_at_ms: u64,
    },
    /// A node fetched the URL and keeps the result on probation (its
    /// verifier did not vouch for the chain, see
    /// [`CertCache`](super::CertCache), "Tiers"): nothing to take, and no
    /// reason to wait; each node fetches it itself. Short-lived (the
    /// claim's hold), so that the nodes waiting on the claim go on.
    Unvouched {
        /// Expiry, Unix milliseconds.
        expires_at_ms: u64,
    },
}

impl SharedEntry {
    /// Expiry, Unix milliseconds.
    pub fn expires_at_ms(&self) -> u64 {
        match self {
            SharedEntry::Body { expires_at_ms, .. }
            | SharedEntry::Failure { expires_at_ms, .. }
            | SharedEntry::Unvouched { expires_at_ms } => *expires_at_ms,
        }
    }
}

/// Whether this node may fetch a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// This node fetches (and releases the claim by writing the result).
    Mine,
    /// Another node is fetching: wait for its entry.
    Theirs,
    /// The store did not answer: fetch without it.
    Unknown,
}

/// A cache shared by the verifiers of a fleet (see the module docs).
pub trait SharedCache: Send + Sync + std::fmt::Debug {
    /// The entry for `url`, if any and not expired.
    fn get(&self, kind: SharedKind, url: String) -> SharedFuture<Option<SharedEntry>>;
    /// Store an entry until its expiry (and drop this node's claim).
    fn put(&self, kind: SharedKind, url: String, entry: SharedEntry) -> SharedFuture<()>;
    /// Claim the fetch of `url` for at most `hold`.
    fn claim(&self, kind: SharedKind, url: String, hold: Duration) -> SharedFuture<Claim>;
    /// How often a waiting node looks for the entry another one fetches.
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(25)
    }
}
