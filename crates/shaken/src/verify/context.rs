//! What the verifier is told besides the Identity header: the call
//! ([`CallContext`], [`PartyId`]), the local policy ([`VerifyPolicy`]) and
//! the CRLs that could not be obtained ([`CrlFailure`]).

use crate::cert::ChainPolicy;
use crate::passport::ClaimsPolicy;
use crate::tn::{TelephoneNumber, TnPolicy};

/// A party of the call as the terminating side sees it (from SIP or the API).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartyId {
    /// A canonical telephone number.
    Tn(TelephoneNumber),
    /// A URI that is not a telephone number.
    Uri(String),
}

impl PartyId {
    /// Classify a SIP URI, tel URI or raw number.
    pub fn from_uri(uri: &str, policy: &TnPolicy) -> PartyId {
        match TelephoneNumber::parse(uri, policy) {
            Ok(tn) => PartyId::Tn(tn),
            Err(_) => PartyId::Uri(uri.to_owned()),
        }
    }
    pub(super) fn describe(&self) -> String {
        match self {
            PartyId::Tn(t) => t.to_string(),
            PartyId::Uri(u) => u.clone(),
        }
    }
}

/// What the verifier knows about the call, besides the Identity header.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The verification time (Unix seconds). Always passed in: the core never
    /// reads the clock.
    pub now: i64,
    /// Candidate originating identities: every P-Asserted-Identity value if
    /// present, otherwise From. Empty: `orig` is not compared.
    pub orig: Vec<PartyId>,
    /// Destination identities (the To header). Empty: `dest` is not compared.
    /// Each must appear in the PASSporT's `dest`.
    pub dest: Vec<PartyId>,
    /// The SIP `Date` header, if any (Unix seconds).
    pub date: Option<i64>,
    /// The SIP Call-ID, if known: a PASSporT seen again with the same Call-ID
    /// is a forked INVITE, not a replay.
    pub call_id: Option<String>,
}

impl CallContext {
    /// A context with only a clock.
    pub fn at(now: i64) -> Self {
        CallContext {
            now,
            ..Default::default()
        }
    }
}

/// Local verification policy.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifyPolicy {
    /// Oldest acceptable `iat`, seconds before `now` (default 60, RFC 8224 §6.2 step 4).
    pub max_age: i64,
    /// Furthest acceptable `iat` in the future, seconds after `now` (default 60).
    pub max_future: i64,
    /// How claims are read (string `iat` leniency).
    pub claims: ClaimsPolicy,
    /// TN canonicalisation (NANP 1-prefix rule).
    pub tn: TnPolicy,
    /// Certificate chain rules.
    pub chain: ChainPolicy,
    /// Require `x5u` in the header to equal `info` (ATIS E10). Default true.
    pub require_x5u_equals_info: bool,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        VerifyPolicy {
            max_age: 60,
            max_future: 60,
            claims: ClaimsPolicy::default(),
            tn: TnPolicy::default(),
            chain: ChainPolicy::default(),
            require_x5u_equals_info: true,
        }
    }
}

/// A CRL that could not be obtained (fetched or parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlFailure {
    /// The CRL URL or file.
    pub url: String,
    /// Why, e.g. the fetch error.
    pub detail: String,
}
