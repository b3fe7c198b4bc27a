//! Verification with certificate fetching: the core verifier plus the
//! x5u cache (edge layer, feature `fetch`).
//!
//! [`OnlineVerifier::verify`] runs stage 1 of [`Verifier`], takes the chain
//! from the cache (or fetches it, one fetch per URL however many callers
//! wait), and runs stage 2. A fetch failure becomes a 436 with a detail that
//! names the URL and the cause.

use crate::cert::{parse_chain, Certificate};
use crate::fetch::{CertCache, FetchError, FetchOptions, ParseFn};
use crate::identity::IdentityHeader;
use crate::verify::{CallContext, Failure, VerifiedPassport, Verifier, VerifyError};
use std::sync::Arc;

/// The x5u cache holding parsed chains (end entity first).
pub type ChainCache = CertCache<Vec<Certificate>>;

/// Build a chain cache whose parser is [`parse_chain`] under `opts.limits`.
pub fn chain_cache(opts: FetchOptions) -> Result<ChainCache, FetchError> {
    let limits = opts.limits.clone();
    let parse: ParseFn<Vec<Certificate>> =
        Arc::new(move |body: &[u8]| parse_chain(body, &limits).map_err(|e| e.to_string()));
    CertCache::new(opts, parse)
}

/// Map a fetch failure to the 436 verification error.
pub fn fetch_error(e: &FetchError) -> VerifyError {
    VerifyError::CertUnavailable {
        detail: format!("x5u certificate could not be obtained: {e}"),
        cause: e.code(),
    }
}

/// A [`Verifier`] with a shared certificate cache.
#[derive(Clone)]
pub struct OnlineVerifier {
    verifier: Arc<Verifier>,
    cache: Arc<ChainCache>,
}

impl OnlineVerifier {
    /// Combine a verifier and a cache.
    pub fn new(verifier: Arc<Verifier>, cache: Arc<ChainCache>) -> Self {
        OnlineVerifier { verifier, cache }
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The cache.
    pub fn cache(&self) -> &ChainCache {
        &self.cache
    }

    /// Verify one Identity header: stage 1, the chain from the cache or the
    /// network, stage 2.
    pub async fn verify(
        &self,
        identity: &IdentityHeader,
        ctx: &CallContext,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        let pending = self.verifier.prepare(identity, ctx)?;
        let chain = match self.cache.get_cached(&pending.x5u) {
            Some(c) => Ok(c),
            None => self
                .cache
                .get(&pending.x5u)
                .await
                .map_err(|e| fetch_error(&e)),
        };
        match chain {
            Ok(c) => self.verifier.complete(pending, Ok(c.as_slice()), ctx.now),
            Err(e) => self.verifier.complete(pending, Err(e), ctx.now),
        }
    }

    /// Verify without waiting for the network: `None` when the chain is not
    /// cached (then call [`verify`](Self::verify)). Batch workers use this on
    /// their hot path.
    pub fn verify_cached(
        &self,
        identity: &IdentityHeader,
        ctx: &CallContext,
    ) -> Option<Result<VerifiedPassport, Box<Failure>>> {
        let pending = match self.verifier.prepare(identity, ctx) {
            Ok(p) => p,
            Err(f) => return Some(Err(f)),
        };
        let chain = self.cache.get_cached(&pending.x5u)?;
        Some(
            self.verifier
                .complete(pending, Ok(chain.as_slice()), ctx.now),
        )
    }
}
