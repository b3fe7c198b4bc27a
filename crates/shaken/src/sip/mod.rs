//! SIP (RFC 3261) for STIR/SHAKEN: reading and editing a request, the
//! name-addr values of From/To/P-Asserted-Identity, and the per-call
//! procedures of RFC 8224 (verifying every Identity header of a request,
//! signing one). Pure core: bytes in, values out.
//!
//! Where each part lives:
//! - `request.rs`: [`SipRequest`], the request reader and editor (what is
//!   accepted and rejected is documented there), [`SipError`];
//! - `name_addr.rs`: [`NameAddr`], name-addr / addr-spec and URI syntax
//!   (RFC 3261 §20.10, §25.1), [`NameAddrError`];
//! - `verify.rs`: [`verify_request`] (RFC 8224 §6.2, RFC 9410,
//!   ATIS-1000074 §5.3.1) and its [`SipReport`], [`SipVerifyError`];
//! - `sign.rs`: [`sign_request`] (RFC 8224 §6.1).
//!
//! `shaken::sip_verify` re-exports the last two for existing users.

mod name_addr;
mod request;
mod sign;
#[cfg(test)]
mod test_lab;
mod verify;

pub use name_addr::{NameAddr, NameAddrError};
pub use request::{canonical_header_name, split_list, SipError, SipRequest};
pub use sign::{sign_request, sign_request_with_rcd, SIGN_DATE_WINDOW};
pub use verify::{
    call_context, malformed_request_report, verify_identities_kinds, verify_identities_staged,
    verify_request, verify_request_kinds, verify_request_staged, verify_request_with,
    IdentitiesReport, PassportResult, SipReport, SipSignal, SipVerifyError,
};
