//! The entry points a SIP stack uses: [`StiAs`] signs calls, `StiVs`
//! (feature `fetch`) verifies them (ATIS-1000082's STI-AS and STI-VS), each
//! built once from its configuration and shared by every thread.
//!
//! ```no_run
//! # #[cfg(feature = "fetch")] {
//! use shaken::{CallContext, StiVs, VerifierConfig};
//! let mut config = VerifierConfig::default();
//! config.trust_anchors.push("/etc/shaken/sti-roots".into());
//! let vs = StiVs::from_config(&config).unwrap();
//! let call = CallContext::for_call(1_800_000_000, "+12155550121", &["+12125550143"]).unwrap();
//! let report = vs.verify_blocking("eyJ...;info=<https://cr.example.net/sp.pem>", &call);
//! println!("{}", report.verstat);
//! # }
//! ```
//!
//! The CLI (`sign`, `verify`, `--batch`, `--sip`, `--pcap`), the REST
//! service and the C ABI are thin shells over these two types.

use crate::atis::{RequestPolicy, SignRequest};
use crate::config::{check_x5u, ConfigError};
use crate::crypto::{DeterministicSigner, KeySigner, Signer};
use crate::identity::IdentityHeader;
use crate::passport::{self, Claims, EncodedHeader, Header, SignError};
use std::sync::Arc;

/// A signed call: what to put into the SIP `Identity` header, and what was
/// signed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Signed {
    /// The `Identity` header value (`token;info=<x5u>;alg=ES256;ppt=shaken`).
    pub identity: String,
    /// The full-form PASSporT alone.
    pub token: String,
    /// The claims signed.
    pub claims: Claims,
    /// With Rich Call Data in a separate PASSporT (RFC 9795 §8): its
    /// `Identity` header value (`...;ppt=rcd`), to add as a second header.
    pub rcd_identity: Option<String>,
    /// That separate `ppt=rcd` PASSporT alone.
    pub rcd_token: Option<String>,
}

/// The signing service (STI-AS): one key, one certificate URL.
#[derive(Clone)]
pub struct StiAs {
    signer: Arc<dyn Signer>,
    x5u: String,
    header: Header,
    encoded: EncodedHeader,
    policy: RequestPolicy,
    /// Rich Call Data signed into every call that brings none of its own.
    rcd: Option<crate::rcd::RcdSigning>,
}

impl std::fmt::Debug for StiAs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StiAs")
            .field("x5u", &self.x5u)
            .finish_non_exhaustive()
    }
}

impl StiAs {
    /// A signer with any [`Signer`] (a key in memory, an HSM, a KMS) and the
    /// URL of its certificate.
    pub fn new(signer: Arc<dyn Signer>, x5u: impl Into<String>) -> Result<Self, ConfigError> {
        let x5u = x5u.into();
        check_x5u(&x5u)?;
        let header = Header::shaken(&x5u);
        let encoded = EncodedHeader::new(&header).map_err(|e| ConfigError::X5u {
            value: x5u.clone(),
            reason: e.to_string(),
        })?;
        Ok(StiAs {
            signer,
            x5u,
            header,
            encoded,
            policy: RequestPolicy::default(),
            rcd: None,
        })
    }

    /// A signer with a P-256 key in PEM (PKCS#8 or SEC1). `deterministic`:
    /// RFC 6979 signatures (the same claims give the same token).
    pub fn from_pem(
        pem: &str,
        x5u: impl Into<String>,
        deterministic: bool,
    ) -> Result<Self, ConfigError> {
        let key = |source| ConfigError::Key {
            what: "(inline)".into(),
            source,
        };
        let signer: Arc<dyn Signer> = if deterministic {
            Arc::new(DeterministicSigner::from_pem(pem).map_err(key)?)
        } else {
            Arc::new(KeySigner::from_pem(pem).map_err(key)?)
        };
        Self::new(signer, x5u)
    }

    /// A signer from its configuration (reads the key file; feature `fs`).
    #[cfg(feature = "fs")]
    pub fn from_config(config: &crate::config::SignerConfig) -> Result<Self, ConfigError> {
        let pem = crate::load::text(&config.key, crate::config::Setting::Key)?;
        let mut s = Self::from_pem(&pem, config.x5u.clone(), config.deterministic).map_err(
            |e| match e {
                ConfigError::Key { source, .. } => ConfigError::Key {
                    what: config.key.describe(),
                    source,
                },
                other => other,
            },
        )?;
        s.policy = config.request_policy();
        if let Some(r) = &config.rcd {
            s = s
                .with_rcd(r.signing())
                .map_err(|e| ConfigError::Rcd(e.to_string()))?;
        }
        Ok(s)
    }

    /// Read requests under these rules (TN policy, list bound).
    pub fn with_request_policy(mut self, policy: RequestPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The request rules.
    pub fn request_policy(&self) -> &RequestPolicy {
        &self.policy
    }

    /// The certificate URL put into every PASSporT.
    pub fn x5u(&self) -> &str {
        &self.x5u
    }

    /// The PASSporT header signed.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The key's public point (uncompressed SEC1), where the signer knows it.
    pub fn public_key(&self) -> Option<Vec<u8>> {
        self.signer.public_key()
    }

    /// Sign the claims of a request (with this signer's Rich Call Data,
    /// if it has some: [`with_rcd`](Self::with_rcd)).
    pub fn sign(&self, request: &SignRequest) -> Result<Signed, SignError> {
        match request.rcd.as_ref().or(self.rcd.as_ref()) {
            None => self.sign_claims(&request.claims),
            Some(rcd) => self.sign_rcd_checked(request, rcd),
        }
    }

    /// Sign every call with this Rich Call Data (a signer dedicated to one
    /// enterprise), unless the call brings its own ([`sign_with_rcd`](Self::sign_with_rcd)).
    /// Refused when no verifier would accept it.
    pub fn with_rcd(mut self, rcd: crate::rcd::RcdSigning) -> Result<Self, crate::rcd::RcdError> {
        rcd.claims.validate(rcd.separate)?;
        self.rcd = Some(rcd);
        Ok(self)
    }

    /// Sign a request with Rich Call Data (RFC 9795): claims inside the
    /// `shaken` PASSporT (ATIS-1000094 style), or with `rcd.separate` a
    /// second `ppt=rcd` PASSporT with the same `orig`, `dest` and `iat`.
    /// Digests (`rcdi`) are signed as given: compute them first with
    /// [`RcdClaims::with_digests`](crate::rcd::RcdClaims::with_digests).
    pub fn sign_with_rcd(
        &self,
        request: &SignRequest,
        rcd: &crate::rcd::RcdSigning,
    ) -> Result<Signed, SignFailure> {
        rcd.claims.validate(rcd.separate)?;
        Ok(self.sign_rcd_checked(request, rcd)?)
    }

    fn sign_rcd_checked(
        &self,
        request: &SignRequest,
        rcd: &crate::rcd::RcdSigning,
    ) -> Result<Signed, SignError> {
        if !rcd.separate {
            let mut claims = request.claims.clone();
            rcd.claims.insert_into(&mut claims.extra);
            return self.sign_claims(&claims);
        }
        let mut signed = self.sign_claims(&request.claims)?;
        let claims = crate::rcd::separate_claims(&request.claims, &rcd.claims);
        let header = crate::rcd::rcd_header(&self.x5u);
        let token = passport::sign(&header, &claims, self.signer.as_ref())?;
        let mut id = IdentityHeader::shaken(token.clone(), self.x5u.clone());
        id.ppt = Some(crate::rcd::PPT_RCD.into());
        signed.rcd_identity = Some(id.to_string());
        signed.rcd_token = Some(token);
        Ok(signed)
    }

    /// Sign a JSON signing request (bare or inside `signingRequest`).
    pub fn sign_json(&self, json: &[u8]) -> Result<Signed, SignFailure> {
        let req = SignRequest::parse_with(json, &self.policy)?;
        Ok(self.sign(&req)?)
    }

    /// Sign SHAKEN claims as they are.
    pub fn sign_claims(&self, claims: &Claims) -> Result<Signed, SignError> {
        let token = passport::sign_encoded(&self.encoded, claims, self.signer.as_ref())?;
        let identity = IdentityHeader::shaken(token.clone(), self.x5u.clone()).to_string();
        Ok(Signed {
            identity,
            token,
            claims: claims.clone(),
            rcd_identity: None,
            rcd_token: None,
        })
    }
}

/// Diverted calls (RFC 8946): the same key signs `div` PASSporTs.
impl StiAs {
    /// Sign a `div` PASSporT for a call that arrived with `incoming` (an
    /// Identity value or a bare shaken/div token) and is retargeted to
    /// `new_dest`: `orig` and `iat` copied, `div` the incoming destination,
    /// `dest` the new target, `hi` if given, and no other claim.
    pub fn sign_div(
        &self,
        incoming: &str,
        new_dest: &str,
        hi: Option<&str>,
    ) -> Result<crate::div::SignedDiv, crate::div::DivSignError> {
        let (previous, _) = crate::div::incoming_claims(incoming, &crate::Limits::default())?;
        crate::div::sign_div(
            &previous,
            new_dest,
            hi,
            self.signer.as_ref(),
            &self.x5u,
            &self.policy.tn,
        )
    }

    /// Sign a `div` signing request ([`crate::div::DivSignRequest`], the
    /// `div` extension of a JSON signing request).
    pub fn sign_div_request(
        &self,
        request: &crate::div::DivSignRequest,
    ) -> Result<crate::div::SignedDiv, crate::div::DivSignError> {
        self.sign_div(&request.incoming, &request.dest, request.hi.as_deref())
    }

    /// Retarget a signed SIP request to its Request-URI (RFC 8946 §4.1):
    /// keeps every Identity header and adds one `div` per PASSporT that
    /// needs one ([`crate::div::divert_request`]).
    pub fn divert_sip(
        &self,
        req: &crate::sip::SipRequest,
        hi: Option<&str>,
    ) -> Result<Vec<u8>, crate::div::DivSignError> {
        crate::div::divert_request(
            req,
            self.signer.as_ref(),
            &self.x5u,
            hi,
            &crate::Limits::default(),
            &self.policy.tn,
        )
    }
}

/// Why a signing request was not signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignFailure {
    /// The request is malformed.
    #[error(transparent)]
    Request(#[from] crate::atis::RequestError),
    /// The key failed.
    #[error("signing failed: {0}")]
    Sign(#[from] SignError),
    /// The Rich Call Data would not pass a verifier (RFC 9795 §5), or a
    /// digest needs content that could not be obtained.
    #[error("Rich Call Data: {0}")]
    Rcd(#[from] crate::rcd::RcdError),
}

impl crate::verify::CallContext {
    /// The call to verify against: its time, calling and called parties
    /// (numbers in any common form, or `sip:`/`sips:`/`tel:` URIs), with the
    /// default TN policy. A party that is neither a number nor a URI
    /// (`"anonymous"`) is refused: a check against it would mean nothing.
    pub fn for_call(now: i64, orig: &str, dest: &[&str]) -> Result<Self, crate::tn::TnError> {
        let policy = crate::tn::TnPolicy::default();
        Ok(crate::verify::CallContext {
            now,
            orig: vec![party(orig, &policy)?],
            dest: dest
                .iter()
                .map(|d| party(d, &policy))
                .collect::<Result<_, _>>()?,
            ..Default::default()
        })
    }
}

/// A calling or called party as a surface receives it: a telephone number
/// (canonicalised), or a `sip:`, `sips:` or `tel:` URI compared as a URI.
/// Anything else is an error (the number's parse error).
pub fn party(
    value: &str,
    policy: &crate::tn::TnPolicy,
) -> Result<crate::verify::PartyId, crate::tn::TnError> {
    use crate::verify::PartyId;
    match crate::tn::TelephoneNumber::parse(value, policy) {
        Ok(tn) => Ok(PartyId::Tn(tn)),
        Err(e) => {
            let v = value.trim();
            let scheme = v.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
            match scheme.as_deref() {
                Some("sip" | "sips" | "tel") => Ok(PartyId::Uri(v.to_owned())),
                _ => Err(e),
            }
        }
    }
}

#[cfg(feature = "fetch")]
pub use online::{fetch_options, rcd_cache, CachedSignature, CachedStep, StiVs};

#[cfg(feature = "fetch")]
mod online {
    use crate::atis::{RequestPolicy, VerifyRequest};
    use crate::cert::Certificate;
    use crate::config::{ConfigError, CrlSpec, ReplayMode, Setting, VerifierConfig};
    use crate::fetch::FetchOptions;
    use crate::identity::IdentityHeader;
    use crate::online::{
        chain_cache, ChainCache, CrlFetcher, CrlSource, OnlineStep, OnlineVerifier,
    };
    use crate::report::Report;
    use crate::sip::SipRequest;
    use crate::sip_verify::{self, SipReport};
    use crate::verify::{
        self, CallContext, Failure, Pending, VerifiedPassport, Verifier, VerifyError,
    };
    use std::future::Future;
    use std::sync::{Arc, OnceLock};
    use std::time::Duration;

    /// The verification service (STI-VS): trust anchors, CRLs, the
    /// certificate source (a pinned chain, or `x5u` fetched through a
    /// cache), replay detection and the freshness policy, built once from a
    /// [`VerifierConfig`]. Cheap to share (`Arc<StiVs>`); every method takes
    /// `&self`.
    ///
    /// Each check comes in three forms: `async` (for a tokio SIP stack),
    /// `_blocking` (for a thread-per-call stack or C: it runs fetches on a
    /// small runtime of its own, also when called from inside another
    /// runtime), and `verify_cached` (no I/O at all: `None` when a
    /// certificate is still to be fetched).
    pub struct StiVs {
        verifier: Arc<Verifier>,
        chain: Option<Arc<Vec<Certificate>>>,
        online: Option<OnlineVerifier>,
        cache: Option<Arc<ChainCache>>,
        crls: Option<CrlSource>,
        request_policy: RequestPolicy,
        runtime: OnceLock<tokio::runtime::Runtime>,
        fleet: fleet::Link,
        /// Rich Call Data content (`fetch_rcd`): logos and jCards, cached.
        rcd_cache: Option<Arc<crate::fetch::CertCache<crate::rcd::RcdBody>>>,
        /// How this service's caches fetch (a rebuild keeps them only when
        /// the new configuration fetches the same way), with the one pool of
        /// fetch permits the x5u cache, the CRL fetcher and the RCD cache
        /// share (`Limits::max_concurrent_fetches`).
        fetching: FetchOptions,
    }

    /// Whether fetchers built from `a` and from `b` fetch the same way:
    /// every field but the pool of permits. A field added to
    /// `FetchOptions` fails to compile here until it is compared.
    fn same_fetching(a: &FetchOptions, b: &FetchOptions) -> bool {
        let FetchOptions {
            allow_http,
            allow_private,
            allow_any_port,
            extra_tls_roots_pem,
            limits,
            cache_dir,
            user_agent,
            permits: _,
        } = a;
        *allow_http == b.allow_http
            && *allow_private == b.allow_private
            && *allow_any_port == b.allow_any_port
            && *extra_tls_roots_pem == b.extra_tls_roots_pem
            && *limits == b.limits
            && *cache_dir == b.cache_dir
            && *user_agent == b.user_agent
    }

    impl std::fmt::Debug for StiVs {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("StiVs")
                .field("verifier", &self.verifier)
                .field("pinned_chain", &self.chain.is_some())
                .finish_non_exhaustive()
        }
    }

    impl Drop for StiVs {
        fn drop(&mut self) {
            if let Some(rt) = self.runtime.take() {
                // A stuck DNS lookup must not hold up the caller's shutdown.
                rt.shutdown_timeout(Duration::from_secs(1));
            }
        }
    }

    impl StiVs {
        /// Build the service: read the files the configuration names, set up
        /// the fetcher. Does no network I/O (CRL URLs and `x5u` are fetched
        /// when a call needs them).
        pub fn from_config(c: &VerifierConfig) -> Result<Self, ConfigError> {
            Self::build(c, None)
        }

        /// A new service from `c` (the files read again: trust anchors,
        /// CRL files, a pinned chain) that keeps this one's replay guard and
        /// x5u certificate cache, so that swapping it in forgets no verified
        /// PASSporT and refetches no certificate. What a service reload uses.
        ///
        /// The x5u and Rich Call Data caches, and the pool of fetch permits,
        /// are kept only while `c` fetches the same way (the same
        /// `allow_http_x5u`, `allow_private_x5u`, `allow_any_port_x5u`,
        /// `tls_ca`, `cache_dir`, timeouts, `max_fetches` and limits): a
        /// kept cache fetches with the settings it was built with, so a
        /// reload that turned `allow_private_x5u` off would otherwise go on
        /// fetching from private addresses. When they changed, the new
        /// service starts new caches (each signer's chain is fetched again,
        /// or read from `cache_dir`) and a new pool of `max_fetches`.
        pub fn rebuild(&self, c: &VerifierConfig) -> Result<Self, ConfigError> {
            Self::build(c, Some(self))
        }

        fn build(c: &VerifierConfig, previous: Option<&StiVs>) -> Result<Self, ConfigError> {
            let kept_replay = previous.and_then(|p| p.verifier.replay_guard().cloned());
            let mut fetch = fetch_options(c)?;
            // The caches fetch with the options they were built with: they
            // and their pool carry over only when nothing about fetching
            // changed (`rebuild`).
            let kept = previous.filter(|p| same_fetching(&p.fetching, &fetch));
            let had_caches = previous.is_some_and(|p| p.cache.is_some() || p.rcd_cache.is_some());
            if had_caches && kept.is_none() {
                tracing::warn!(
                    "the fetch settings changed: the x5u and Rich Call Data caches start over with them (chains are fetched again)"
                );
            }
            let kept_cache = kept.and_then(|p| p.cache.clone());
            let limits = c.limits.clone();
            let anchors = crate::load::trust_anchors(&c.trust_anchors)?;
            let mut crl_files = Vec::new();
            for spec in &c.crl {
                if let CrlSpec::Load(src) = spec {
                    crl_files.push(crate::load::crl(src, &limits)?);
                }
            }
            let mut verifier = Verifier::new(anchors)
                .with_policy(c.policy())
                .with_limits(limits.clone())
                .with_crls(crl_files);
            match &c.replay {
                ReplayMode::Off => {}
                _ if kept_replay.is_some() => {
                    if let Some(guard) = kept_replay {
                        verifier = verifier.with_replay_guard(guard);
                    }
                }
                ReplayMode::Memory => {
                    let store = Arc::new(verifier.default_replay_store());
                    verifier = verifier.with_replay(store);
                }
                ReplayMode::Dir(dir) => verifier = with_replay_dir(verifier, dir, c.replay_ttl())?,
            }
            let (verifier, fleet) = fleet::setup(c, verifier)?;
            let verifier = Arc::new(verifier);
            if let Some(p) = kept {
                // The kept x5u and RCD caches hold the previous pool: the
                // new CRL fetcher joins it, so one cap still binds them all.
                fetch.permits = p.fetching.permits.clone();
            }
            let fetching = fetch.clone();
            let rcd_cache = match (c.fetch_rcd, kept.and_then(|p| p.rcd_cache.clone())) {
                (false, _) => None,
                (true, Some(kept)) => Some(kept),
                (true, None) => Some(Arc::new(rcd_cache(&fetch)?)),
            };
            let urls = c.crl_urls();
            let crls = if urls.is_empty() && !c.fetch_crl {
                None
            } else {
                let fetcher = CrlFetcher::new(fetch.clone())
                    .map_err(|e| ConfigError::Fetcher(e.to_string()))?;
                let fetcher = fleet::share_crls(fetcher, &fleet);
                Some(CrlSource::new(Arc::new(fetcher), urls, c.fetch_crl))
            };
            let (chain, online, cache) = match &c.cert {
                Some(src) => (
                    Some(Arc::new(crate::load::chain(src, &limits)?)),
                    None,
                    None,
                ),
                None => {
                    let cache = match kept_cache {
                        Some(cache) => cache,
                        None => Arc::new(fleet::share_chains(
                            chain_cache(fetch).map_err(|e| ConfigError::Fetcher(e.to_string()))?,
                            &fleet,
                        )),
                    };
                    let mut online = OnlineVerifier::new(verifier.clone(), cache.clone());
                    if let Some(src) = &crls {
                        online = online.with_crl_source(src.clone());
                    }
                    (None, Some(online), Some(cache))
                }
            };
            Ok(StiVs {
                verifier,
                chain,
                online,
                cache,
                crls,
                request_policy: c.request_policy(),
                runtime: OnceLock::new(),
                fleet,
                rcd_cache,
                fetching,
            })
        }

        /// Fetch what the `rcdi` digests of a verified PASSporT reference
        /// (with `fetch_rcd`; RFC 9795 §8.2) and attach it, so that its report
        /// says which digests matched. Two rounds at most (a `jcl` jCard, then
        /// the URIs inside it), never further; at most
        /// [`MAX_RCD_FETCHES`](crate::rcd::MAX_RCD_FETCHES) URLs. A failure
        /// leaves that content `unverified`; the verification stands.
        pub async fn complete_rcd(
            &self,
            result: Result<VerifiedPassport, Box<Failure>>,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            let (Some(cache), Ok(v)) = (&self.rcd_cache, &result) else {
                return result;
            };
            let Some(claims) = v.rcd() else {
                return result;
            };
            let mut content = crate::rcd::RcdContent::new();
            let mut fetched = 0;
            for _round in 0..2 {
                let wanted = claims.wanted(&content);
                if wanted.is_empty() {
                    break;
                }
                for url in wanted {
                    let body = if fetched >= crate::rcd::MAX_RCD_FETCHES {
                        Err(format!(
                            "not fetched: more than {} referenced resources",
                            crate::rcd::MAX_RCD_FETCHES
                        ))
                    } else {
                        fetched += 1;
                        cache
                            .get(&url)
                            .await
                            .map(|b| b.as_ref().clone())
                            .map_err(|e| e.to_string())
                    };
                    content.insert_body(url, body);
                }
            }
            result.map(|v| v.with_rcd_content(content))
        }

        /// [`complete_rcd`](Self::complete_rcd), blocking.
        pub fn complete_rcd_blocking(
            &self,
            result: Result<VerifiedPassport, Box<Failure>>,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            let needs = self.rcd_cache.is_some()
                && matches!(&result, Ok(v) if v.rcd().is_some_and(|c| !c.wanted(&crate::rcd::RcdContent::new()).is_empty()));
            if !needs {
                return result;
            }
            let keep = result.clone();
            self.block_on(self.complete_rcd(result)).unwrap_or(keep)
        }

        /// The same service with its own replay detection: `None`, none at
        /// all; `Some(guard)`, that guard instead of this service's. It
        /// shares this one's trust anchors, CRLs, x5u certificate cache and
        /// chain memo, and records nothing in this one's replay store. What
        /// `serve --ui` checks with: a value looked at twice gets the same
        /// verdict (as a single `verify` does), the live call that carries
        /// it is not failed as a replay, and a capture gets a store of its
        /// own (as `verify --pcap` does).
        pub fn with_own_replay(&self, guard: Option<Arc<dyn crate::replay::ReplayGuard>>) -> StiVs {
            let mut verifier = self.verifier.without_replay();
            if let Some(g) = guard {
                verifier = verifier.with_replay_guard(g);
            }
            let verifier = Arc::new(verifier);
            let online = match (&self.online, &self.cache) {
                (Some(_), Some(cache)) => {
                    let mut online = OnlineVerifier::new(verifier.clone(), cache.clone());
                    if let Some(src) = &self.crls {
                        online = online.with_crl_source(src.clone());
                    }
                    Some(online)
                }
                _ => None,
            };
            StiVs {
                verifier,
                chain: self.chain.clone(),
                online,
                cache: self.cache.clone(),
                crls: self.crls.clone(),
                request_policy: self.request_policy.clone(),
                runtime: OnceLock::new(),
                fleet: fleet::share(&self.fleet),
                rcd_cache: self.rcd_cache.clone(),
                fetching: self.fetching.clone(),
            }
        }

        /// The bound on this service's outbound fetches (x5u, CRLs, Rich
        /// Call Data content share it): the cap, the fetches in flight now
        /// and the fetches that failed busy (`fetch-busy`). `None` when the
        /// service has nothing to fetch (a pinned chain, no CRL URL, no
        /// Rich Call Data fetching).
        pub fn fetch_stats(&self) -> Option<crate::fetch::FetchStats> {
            self.fetching.permits.stats()
        }

        /// The Redis link of a fleet (`redis`), for its state and counters.
        #[cfg(feature = "redis")]
        pub fn redis(&self) -> Option<&crate::fleet::Redis> {
            self.fleet.as_ref()
        }

        /// The core verifier (anchors, policy, limits, replay store).
        pub fn verifier(&self) -> &Arc<Verifier> {
            &self.verifier
        }

        /// The pinned chain, when there is one.
        pub fn pinned_chain(&self) -> Option<&Arc<Vec<Certificate>>> {
            self.chain.as_ref()
        }

        /// The fetching verifier and its cache, when `x5u` is fetched.
        pub fn online(&self) -> Option<&OnlineVerifier> {
            self.online.as_ref()
        }

        /// How verification requests are read (TN policy, list bound).
        pub fn request_policy(&self) -> &RequestPolicy {
            &self.request_policy
        }

        /// Parse an Identity header value (a pasted `Identity:` prefix and
        /// folded lines are accepted; a bare full-form token's `x5u` stands
        /// for `info`).
        pub fn parse_identity(&self, value: &str) -> Result<IdentityHeader, Box<Failure>> {
            verify::parse_identity_or_token(value, self.verifier.limits())
                .map_err(|e| Box::new(Failure::new(e)))
        }

        /// Verify without waiting for the network: `None` when a certificate
        /// or CRL must still be fetched (then call [`verify_header`](Self::verify_header)).
        pub fn verify_cached(
            &self,
            identity: &IdentityHeader,
            ctx: &CallContext,
        ) -> Option<Result<VerifiedPassport, Box<Failure>>> {
            match self.verify_cached_inner(identity, ctx)? {
                Err(mut f) if f.needs_attribution() => {
                    self.attribute_cached(identity, &mut f, ctx.now)?;
                    Some(Err(f))
                }
                other => Some(other),
            }
        }

        /// Attribution (`Verifier::attribute`) of a call that failed before
        /// its certificate was needed, with the pinned chain or the cached
        /// one; `None` when that certificate must still be fetched.
        fn attribute_cached(
            &self,
            identity: &IdentityHeader,
            f: &mut Failure,
            now: i64,
        ) -> Option<()> {
            match (&self.chain, &self.online) {
                (Some(chain), _) => {
                    self.verifier.attribute(identity, f, chain, now);
                }
                (None, Some(online)) if !self.verifier.anchors().is_empty() => {
                    online.attribute_cached(identity, f, now)?;
                }
                _ => {}
            }
            Some(())
        }

        fn verify_cached_inner(
            &self,
            identity: &IdentityHeader,
            ctx: &CallContext,
        ) -> Option<Result<VerifiedPassport, Box<Failure>>> {
            Some(match self.cached_until_signature(identity, ctx)? {
                CachedStep::Done(result) => result,
                CachedStep::Signature(s) => self.complete_signature_cached(s, ctx.now),
            })
        }

        /// [`verify_cached`](Self::verify_cached) up to the signature
        /// ([`Verifier::complete_until_signature`]): `None` when a
        /// certificate or CRL must still be fetched. Check the signatures of
        /// many calls back to back ([`CachedSignature::check_signature`]),
        /// then finish each call, in the order the calls came, with
        /// [`complete_signature_blocking`](Self::complete_signature_blocking):
        /// the verdicts are those of [`verify_header_blocking`](Self::verify_header_blocking),
        /// and the ES256 work runs with the CPU's caches and branch
        /// predictors to itself (`verify --batch` does this per chunk of
        /// lines). With a replay guard that answers over the network
        /// ([`ReplayGuard::is_async`](crate::replay::ReplayGuard::is_async)),
        /// verify call by call instead: the guard is asked while the
        /// signature is checked.
        pub fn verify_cached_until_signature(
            &self,
            identity: &IdentityHeader,
            ctx: &CallContext,
        ) -> Option<CachedStep> {
            match self.cached_until_signature(identity, ctx)? {
                CachedStep::Done(Err(mut f)) if f.needs_attribution() => {
                    self.attribute_cached(identity, &mut f, ctx.now)?;
                    Some(CachedStep::Done(Err(f)))
                }
                other => Some(other),
            }
        }

        /// The end of a call that
        /// [`verify_cached_until_signature`](Self::verify_cached_until_signature)
        /// took up to its signature: the signature (unless already checked),
        /// claim constraints, replay, and Rich Call Data content when the
        /// service fetches it (blocking).
        pub fn complete_signature_blocking(
            &self,
            signature: CachedSignature,
            now: i64,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            let result = self.complete_signature_cached(signature, now);
            self.complete_rcd_blocking(result)
        }

        fn complete_signature_cached(
            &self,
            signature: CachedSignature,
            now: i64,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            match signature.0 {
                SignatureOf::Pinned(step) => self.verifier.complete_signature(step, now),
                SignatureOf::Online(step) => match &self.online {
                    Some(online) => online.complete_signature(step, now),
                    // Not reached: an online step comes from `self.online`.
                    None => Err(no_source()),
                },
            }
        }

        fn cached_until_signature(
            &self,
            identity: &IdentityHeader,
            ctx: &CallContext,
        ) -> Option<CachedStep> {
            let step = match (&self.chain, &self.online) {
                (Some(chain), _) => {
                    let pending = match self.verifier.prepare(identity, ctx) {
                        Ok(p) => p,
                        Err(f) => return Some(CachedStep::Done(Err(f))),
                    };
                    let (crls, failures) = match &self.crls {
                        None => Default::default(),
                        Some(src) => src.cached(chain)?,
                    };
                    self.verifier
                        .complete_until_signature(pending, Ok(chain), ctx.now, &crls, &failures)
                        .map(SignatureOf::Pinned)
                }
                (None, Some(online)) => {
                    match online.verify_cached_until_signature(identity, ctx)? {
                        OnlineStep::Signature(s) => Ok(SignatureOf::Online(s)),
                        OnlineStep::Done(result) => return Some(CachedStep::Done(result)),
                    }
                }
                (None, None) => Err(no_source()),
            };
            Some(match step {
                Ok(s) => CachedStep::Signature(CachedSignature(s)),
                Err(f) => CachedStep::Done(Err(f)),
            })
        }

        /// Verify one parsed Identity header for a call (fetches on a cache
        /// miss; with `fetch_rcd`, also the Rich Call Data content).
        pub async fn verify_header(
            &self,
            identity: &IdentityHeader,
            ctx: &CallContext,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            let result = self.verify_header_without_rcd(identity, ctx).await;
            self.complete_rcd(result).await
        }

        /// [`verify_header`](Self::verify_header) without fetching Rich Call
        /// Data content (a caller with its own time budget for it, as the
        /// REST service: then [`complete_rcd`](Self::complete_rcd)).
        pub async fn verify_header_without_rcd(
            &self,
            identity: &IdentityHeader,
            ctx: &CallContext,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            match self.verify_header_inner(identity, ctx).await {
                Err(mut f) if f.needs_attribution() => {
                    if self.attribute_cached(identity, &mut f, ctx.now).is_none() {
                        // Not cached: fetch the certificate (as a call that
                        // passed stage 1 would have) to name the signer.
                        if let Some(online) = &self.online {
                            online.attribute(identity, &mut f, ctx.now).await;
                        }
                    }
                    Err(f)
                }
                other => other,
            }
        }

        async fn verify_header_inner(
            &self,
            identity: &IdentityHeader,
            ctx: &CallContext,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            match (&self.chain, &self.online) {
                (Some(chain), _) => match &self.crls {
                    None => self.verifier.verify_with_chain(identity, ctx, chain),
                    Some(src) => {
                        let pending = self.verifier.prepare(identity, ctx)?;
                        let (crls, failures) = match src.cached(chain) {
                            Some(r) => r,
                            None => src.get(chain).await,
                        };
                        self.verifier.complete_with_crls(
                            pending,
                            Ok(chain),
                            ctx.now,
                            &crls,
                            &failures,
                        )
                    }
                },
                (None, Some(online)) => match online.verify_cached(identity, ctx) {
                    Some(r) => r,
                    None => online.verify(identity, ctx).await,
                },
                (None, None) => Err(no_source()),
            }
        }

        /// Verify an Identity header value for a call.
        pub async fn verify(
            &self,
            value: &str,
            ctx: &CallContext,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            let identity = self.parse_identity(value)?;
            self.verify_header(&identity, ctx).await
        }

        /// [`verify`](Self::verify), blocking; the report a person or a
        /// script reads.
        pub fn verify_blocking(&self, value: &str, ctx: &CallContext) -> Report {
            verify::into_report(self.verify_result_blocking(value, ctx))
        }

        /// [`verify`](Self::verify), blocking, with the verified PASSporT.
        pub fn verify_result_blocking(
            &self,
            value: &str,
            ctx: &CallContext,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            let identity = self.parse_identity(value)?;
            self.verify_header_blocking(&identity, ctx)
        }

        /// [`verify_header`](Self::verify_header), blocking.
        pub fn verify_header_blocking(
            &self,
            identity: &IdentityHeader,
            ctx: &CallContext,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            if let Some(r) = self.verify_cached(identity, ctx) {
                return self.complete_rcd_blocking(r);
            }
            match self.block_on(self.verify_header(identity, ctx)) {
                Ok(r) => r,
                Err(detail) => Err(Box::new(Failure::new(VerifyError::CertUnavailable {
                    detail,
                    cause: "fetch-runtime",
                }))),
            }
        }

        /// Verify an ATIS-1000082 verification request. With `pinned_now`
        /// (a fixed clock), the request time is checked like a SIP `Date`;
        /// without it the request time is the verification time.
        pub async fn verify_request(
            &self,
            req: &VerifyRequest<'_>,
            pinned_now: Option<i64>,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            self.verify(&req.identity, &req.context(pinned_now)).await
        }

        /// [`verify_request`](Self::verify_request), blocking.
        pub fn verify_request_blocking(
            &self,
            req: &VerifyRequest<'_>,
            pinned_now: Option<i64>,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            self.verify_result_blocking(&req.identity, &req.context(pinned_now))
        }

        /// Verify a whole SIP request (RFC 8224 §6.2): orig from
        /// P-Asserted-Identity (else From), dest from To, the Date header,
        /// one report per Identity header and the call's verdict.
        pub async fn verify_sip(&self, msg: &[u8], now: i64) -> SipReport {
            let req = match SipRequest::parse(msg, self.verifier.limits()) {
                Ok(r) => r,
                Err(e) => return sip_verify::malformed_request_report(&e),
            };
            self.verify_sip_request(&req, now).await
        }

        /// [`verify_sip`](Self::verify_sip) on a request already parsed.
        pub async fn verify_sip_request(&self, req: &SipRequest, now: i64) -> SipReport {
            // First pass: which PASSporTs need verifying, with which call
            // context and of which kind (the procedure decides; nothing is
            // verified yet).
            let mut asked: Vec<(IdentityHeader, CallContext, bool)> = Vec::new();
            sip_verify::verify_request_kinds(&self.verifier, req, now, |identity, ctx, div| {
                asked.push((identity.clone(), ctx.clone(), div));
                Err(Box::new(Failure::new(VerifyError::NoIdentity)))
            });
            // Verify them, fetching as needed.
            let mut results = Vec::with_capacity(asked.len());
            for (identity, ctx, div) in &asked {
                results.push(self.verify_passport(identity, ctx, *div).await);
            }
            // Second pass: the same procedure, answered in the same order.
            let mut results = results.into_iter();
            sip_verify::verify_request_kinds(&self.verifier, req, now, |_, _, _| {
                results
                    .next()
                    .unwrap_or_else(|| Err(Box::new(Failure::new(VerifyError::NoIdentity))))
            })
        }

        /// [`verify_sip_request`](Self::verify_sip_request) on raw bytes, blocking.
        pub fn verify_sip_blocking(&self, msg: &[u8], now: i64) -> SipReport {
            let req = match SipRequest::parse(msg, self.verifier.limits()) {
                Ok(r) => r,
                Err(e) => return sip_verify::malformed_request_report(&e),
            };
            self.verify_sip_request_blocking(&req, now)
        }

        /// [`verify_sip_request`](Self::verify_sip_request), blocking.
        pub fn verify_sip_request_blocking(&self, req: &SipRequest, now: i64) -> SipReport {
            sip_verify::verify_request_kinds(&self.verifier, req, now, |identity, ctx, div| {
                self.verify_passport_blocking(identity, ctx, div)
            })
        }

        /// Verify one PASSporT of a call: a shaken (or rcd) one as
        /// [`verify_header`](Self::verify_header) does, a `div`/`div-o` one
        /// (`div`) with [`Verifier::prepare_div`] and its own chain.
        pub async fn verify_passport(
            &self,
            identity: &IdentityHeader,
            ctx: &CallContext,
            div: bool,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            if div {
                let pending = self.verifier.prepare_div(identity, ctx)?;
                self.complete_pending(pending, ctx).await
            } else {
                self.verify_header(identity, ctx).await
            }
        }

        /// [`verify_passport`](Self::verify_passport), blocking.
        pub fn verify_passport_blocking(
            &self,
            identity: &IdentityHeader,
            ctx: &CallContext,
            div: bool,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            if div {
                let pending = self.verifier.prepare_div(identity, ctx)?;
                self.complete_pending_blocking(pending, ctx)
            } else {
                self.verify_header_blocking(identity, ctx)
            }
        }

        /// Verify several Identity values of one call, in any order: each
        /// PASSporT, then the `div` chain (RFC 8946), which must end at
        /// `target` (the Request-URI; `None`: the first called number of
        /// `ctx`). A single `div-o` value carries its own chain in `opt`.
        pub async fn verify_identities(
            &self,
            values: &[&str],
            ctx: &CallContext,
            target: Option<&crate::verify::PartyId>,
        ) -> sip_verify::IdentitiesReport {
            let mut asked: Vec<(IdentityHeader, CallContext, bool)> = Vec::new();
            sip_verify::verify_identities_kinds(
                &self.verifier,
                values,
                ctx,
                target,
                |identity, ctx, div| {
                    asked.push((identity.clone(), ctx.clone(), div));
                    Err(Box::new(Failure::new(VerifyError::NoIdentity)))
                },
            );
            let mut results = Vec::with_capacity(asked.len());
            for (identity, ctx, div) in &asked {
                results.push(self.verify_passport(identity, ctx, *div).await);
            }
            let mut results = results.into_iter();
            sip_verify::verify_identities_kinds(&self.verifier, values, ctx, target, |_, _, _| {
                results
                    .next()
                    .unwrap_or_else(|| Err(Box::new(Failure::new(VerifyError::NoIdentity))))
            })
        }

        /// Verify an ATIS-1000082 request with the diverted-call extension
        /// ([`crate::div::VerifyExtension`]): `identity` and every value of
        /// `identities`, the chain ending at `requestUri` (default the first
        /// `to.tn`).
        pub async fn verify_request_diverted(
            &self,
            req: &VerifyRequest<'_>,
            ext: &crate::div::VerifyExtension,
            pinned_now: Option<i64>,
        ) -> sip_verify::IdentitiesReport {
            let values = request_values(req, ext);
            let target = request_target(ext, &self.verifier.policy().tn);
            self.verify_identities(&values, &req.context(pinned_now), target.as_ref())
                .await
        }

        /// [`verify_request_diverted`](Self::verify_request_diverted), blocking.
        pub fn verify_request_diverted_blocking(
            &self,
            req: &VerifyRequest<'_>,
            ext: &crate::div::VerifyExtension,
            pinned_now: Option<i64>,
        ) -> sip_verify::IdentitiesReport {
            let values = request_values(req, ext);
            let target = request_target(ext, &self.verifier.policy().tn);
            self.verify_identities_blocking(&values, &req.context(pinned_now), target.as_ref())
        }

        /// [`verify_identities`](Self::verify_identities), blocking.
        pub fn verify_identities_blocking(
            &self,
            values: &[&str],
            ctx: &CallContext,
            target: Option<&crate::verify::PartyId>,
        ) -> sip_verify::IdentitiesReport {
            sip_verify::verify_identities_kinds(
                &self.verifier,
                values,
                ctx,
                target,
                |identity, ctx, div| self.verify_passport_blocking(identity, ctx, div),
            )
        }

        /// Stage 2 of a PASSporT prepared by the caller (shaken:
        /// [`Verifier::prepare`]; div: [`Verifier::prepare_div`]): the chain
        /// from `cert`, the cache or the network, then CRLs.
        pub async fn complete_pending(
            &self,
            pending: Pending,
            ctx: &CallContext,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            match (&self.chain, &self.online) {
                (Some(chain), _) => match &self.crls {
                    None => self.verifier.complete(pending, Ok(chain), ctx.now),
                    Some(src) => {
                        let (crls, failures) = match src.cached(chain) {
                            Some(r) => r,
                            None => src.get(chain).await,
                        };
                        self.verifier.complete_with_crls(
                            pending,
                            Ok(chain),
                            ctx.now,
                            &crls,
                            &failures,
                        )
                    }
                },
                (None, Some(online)) => match online.complete_cached(pending, ctx) {
                    Ok(r) => r,
                    Err(pending) => online.complete(*pending, ctx).await,
                },
                (None, None) => Err(no_source()),
            }
        }

        /// [`complete_pending`](Self::complete_pending), blocking.
        pub fn complete_pending_blocking(
            &self,
            pending: Pending,
            ctx: &CallContext,
        ) -> Result<VerifiedPassport, Box<Failure>> {
            let pending = match (&self.chain, &self.online, &self.crls) {
                (Some(chain), _, None) => {
                    return self.verifier.complete(pending, Ok(chain), ctx.now)
                }
                (Some(chain), _, Some(src)) => match src.cached(chain) {
                    Some((crls, failures)) => {
                        return self.verifier.complete_with_crls(
                            pending,
                            Ok(chain),
                            ctx.now,
                            &crls,
                            &failures,
                        )
                    }
                    None => pending,
                },
                (None, Some(online), _) => match online.complete_cached(pending, ctx) {
                    Ok(r) => return r,
                    Err(p) => *p,
                },
                (None, None, _) => return Err(no_source()),
            };
            match self.block_on(self.complete_pending(pending, ctx)) {
                Ok(r) => r,
                Err(detail) => Err(Box::new(Failure::new(VerifyError::CertUnavailable {
                    detail,
                    cause: "fetch-runtime",
                }))),
            }
        }

        fn runtime(&self) -> Result<&tokio::runtime::Runtime, String> {
            if let Some(rt) = self.runtime.get() {
                return Ok(rt);
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("shaken-fetch")
                .enable_all()
                .build()
                .map_err(|e| format!("starting the fetch runtime: {e}"))?;
            // Another thread may have won the race: its runtime is kept.
            let _ = self.runtime.set(rt);
            self.runtime
                .get()
                .ok_or_else(|| "the fetch runtime vanished".to_owned())
        }

        /// Run `fut` to completion on the service's own runtime. From inside
        /// another tokio runtime (a host that is itself async), the wait
        /// happens on a scoped thread, since a runtime cannot block inside
        /// one.
        fn block_on<F>(&self, fut: F) -> Result<F::Output, String>
        where
            F: Future + Send,
            F::Output: Send,
        {
            let rt = self.runtime()?;
            if tokio::runtime::Handle::try_current().is_err() {
                return Ok(rt.block_on(fut));
            }
            std::thread::scope(|s| {
                s.spawn(|| rt.block_on(fut))
                    .join()
                    .map_err(|_| "the fetch thread panicked".to_owned())
            })
        }
    }

    /// The fleet's Redis link (`redis`), or nothing: each piece of
    /// `StiVs::from_config` that it changes is one call here.
    fn request_values<'r>(
        req: &'r VerifyRequest<'_>,
        ext: &'r crate::div::VerifyExtension,
    ) -> Vec<&'r str> {
        std::iter::once(req.identity.as_ref())
            .chain(ext.identities.iter().map(String::as_str))
            .collect()
    }

    fn request_target(
        ext: &crate::div::VerifyExtension,
        tn: &crate::tn::TnPolicy,
    ) -> Option<crate::verify::PartyId> {
        ext.target(tn)
    }

    mod fleet {
        #[cfg(feature = "redis")]
        use crate::config::ReplayMode;
        use crate::config::{ConfigError, Setting, VerifierConfig};
        use crate::online::{ChainCache, CrlFetcher};
        use crate::verify::Verifier;

        #[cfg(feature = "redis")]
        pub(super) type Link = Option<crate::fleet::Redis>;
        #[cfg(not(feature = "redis"))]
        pub(super) type Link = ();

        /// Connect, and put the replay store in Redis (unless replay
        /// detection is off).
        #[cfg(feature = "redis")]
        pub(super) fn setup(
            c: &VerifierConfig,
            verifier: Verifier,
        ) -> Result<(Verifier, Link), ConfigError> {
            let Some(opts) = crate::fleet::RedisOptions::from_config(c)? else {
                return Ok((verifier, None));
            };
            if let ReplayMode::Dir(_) = c.replay {
                return Err(ConfigError::Redis {
                    setting: Setting::Redis,
                    detail: "a replay directory and Redis exclude each other (Redis already shares replay detection across hosts)".into(),
                });
            }
            let redis = crate::fleet::Redis::connect(opts)?;
            let verifier = match c.replay {
                ReplayMode::Off => verifier,
                _ => verifier.with_replay_guard(std::sync::Arc::new(
                    crate::fleet::RedisReplayGuard::new(redis.clone(), c.replay_ttl()),
                )),
            };
            Ok((verifier, Some(redis)))
        }

        #[cfg(not(feature = "redis"))]
        pub(super) fn setup(
            c: &VerifierConfig,
            verifier: Verifier,
        ) -> Result<(Verifier, Link), ConfigError> {
            match c.redis {
                None => Ok((verifier, ())),
                Some(_) => Err(ConfigError::Unsupported {
                    setting: Setting::Redis,
                    feature: "redis",
                }),
            }
        }

        #[cfg(feature = "redis")]
        fn shared(
            link: &Link,
            max_body: usize,
        ) -> Option<std::sync::Arc<crate::fleet::RedisShared>> {
            link.as_ref()
                .map(|r| std::sync::Arc::new(crate::fleet::RedisShared::new(r.clone(), max_body)))
        }

        /// Chains fetched once for the fleet.
        #[cfg(feature = "redis")]
        pub(super) fn share_chains(cache: ChainCache, link: &Link) -> ChainCache {
            let max = cache.http().options().limits.max_fetch_body;
            match shared(link, max) {
                Some(s) => cache.with_shared(s, crate::fetch::SharedKind::X5u),
                None => cache,
            }
        }

        /// CRLs fetched once for the fleet.
        #[cfg(feature = "redis")]
        pub(super) fn share_crls(fetcher: CrlFetcher, link: &Link) -> CrlFetcher {
            let max = fetcher.cache().http().options().limits.max_crl_body;
            match shared(link, max) {
                Some(s) => fetcher.with_shared(s),
                None => fetcher,
            }
        }

        /// The same link, for a service derived from this one.
        #[cfg(feature = "redis")]
        pub(super) fn share(link: &Link) -> Link {
            link.clone()
        }

        #[cfg(not(feature = "redis"))]
        pub(super) fn share(_link: &Link) -> Link {}

        #[cfg(not(feature = "redis"))]
        pub(super) fn share_chains(cache: ChainCache, _link: &Link) -> ChainCache {
            cache
        }

        #[cfg(not(feature = "redis"))]
        pub(super) fn share_crls(fetcher: CrlFetcher, _link: &Link) -> CrlFetcher {
            fetcher
        }
    }

    /// The cache of Rich Call Data content: the x5u fetcher's rules (https
    /// only unless allowed, SSRF guard, no redirects, timeouts), its own size
    /// cap ([`Limits::max_rcd_body`](crate::Limits)), memory only (a logo is
    /// not a certificate: it never goes to the certificate disk cache). The
    /// body is kept as fetched: its digest is over those bytes.
    pub fn rcd_cache(
        fetch: &FetchOptions,
    ) -> Result<crate::fetch::CertCache<crate::rcd::RcdBody>, ConfigError> {
        let mut opts = fetch.clone();
        opts.cache_dir = None;
        opts.limits.max_fetch_body = opts.limits.max_rcd_body;
        let parse: crate::fetch::ParseFn<crate::rcd::RcdBody> =
            Arc::new(|b: &[u8]| Ok(crate::rcd::RcdBody::new(b.to_vec())));
        Ok(crate::fetch::CertCache::new(opts, parse)
            .map_err(|e| ConfigError::Fetcher(e.to_string()))?
            .with_accept(crate::rcd::RCD_ACCEPT))
    }

    /// How far [`StiVs::verify_cached_until_signature`] got with a call.
    // The signature variant is large (the decoded PASSporT): it is made once
    // a call and moved into place, where a box would cost an allocation.
    #[allow(clippy::large_enum_variant)]
    #[derive(Debug)]
    #[non_exhaustive]
    pub enum CachedStep {
        /// The verification ended before the signature (a failure).
        Done(Result<VerifiedPassport, Box<Failure>>),
        /// The signature and what follows it are left.
        Signature(CachedSignature),
    }

    /// A call at its signature, its chain validated (the pinned one or a
    /// cached `x5u`): [`check_signature`](Self::check_signature), then
    /// [`StiVs::complete_signature_blocking`].
    #[derive(Debug)]
    pub struct CachedSignature(SignatureOf);

    #[derive(Debug)]
    enum SignatureOf {
        Pinned(crate::verify::SignatureStep),
        Online(crate::online::OnlineSignature),
    }

    impl CachedSignature {
        /// Step 13: whether the signature verifies (the ES256 work; checked
        /// once).
        pub fn check_signature(&mut self) -> bool {
            match &mut self.0 {
                SignatureOf::Pinned(s) => s.check_signature(),
                SignatureOf::Online(s) => s.check_signature(),
            }
        }
    }

    fn no_source() -> Box<Failure> {
        Box::new(Failure::new(VerifyError::CertUnavailable {
            detail: "no certificate source configured".into(),
            cause: "no-cert",
        }))
    }

    #[cfg(feature = "replay-dir")]
    fn with_replay_dir(
        verifier: Verifier,
        dir: &std::path::Path,
        ttl: i64,
    ) -> Result<Verifier, ConfigError> {
        let store = crate::replay_dir::DirReplayStore::open(dir, ttl)
            .map_err(|e| ConfigError::ReplayDir(e.to_string()))?;
        Ok(verifier.with_replay_guard(Arc::new(store)))
    }

    #[cfg(not(feature = "replay-dir"))]
    fn with_replay_dir(
        _verifier: Verifier,
        _dir: &std::path::Path,
        _ttl: i64,
    ) -> Result<Verifier, ConfigError> {
        Err(ConfigError::Unsupported {
            setting: Setting::ReplayDir,
            feature: "replay-dir",
        })
    }

    /// The fetch rules of a configuration (x5u and CRLs alike), with a new
    /// pool of fetch permits that every fetcher built from them (or from
    /// their clones) shares.
    pub fn fetch_options(c: &VerifierConfig) -> Result<FetchOptions, ConfigError> {
        let mut limits = c.limits.clone();
        limits.connect_timeout = Duration::from_millis(c.connect_timeout_ms);
        limits.fetch_timeout = Duration::from_millis(c.fetch_timeout_ms);
        if c.max_fetches == 0 {
            return Err(ConfigError::OutOfRange {
                setting: Setting::MaxFetches,
                value: 0,
                reason: "at least 1 (with 0 no certificate could ever be fetched)",
            });
        }
        limits.max_concurrent_fetches = c.max_fetches;
        let mut extra = Vec::new();
        for src in &c.tls_ca {
            extra.push(crate::load::read(src, Setting::TlsCa)?);
        }
        Ok(FetchOptions {
            allow_http: c.allow_http_x5u,
            allow_private: c.allow_private_x5u,
            allow_any_port: c.allow_any_port_x5u,
            extra_tls_roots_pem: extra,
            limits,
            cache_dir: c.cache_dir.clone(),
            ..FetchOptions::default()
        })
    }
}
