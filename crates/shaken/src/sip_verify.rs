//! Verification and signing of whole SIP requests now live in
//! [`crate::sip`] (`sip/verify.rs`, `sip/sign.rs`); this module keeps the
//! `shaken::sip_verify::...` paths working for existing users.

pub use crate::sip::{
    call_context, malformed_request_report, sign_request, verify_identities_kinds,
    verify_identities_staged, verify_request, verify_request_kinds, verify_request_staged,
    verify_request_with, IdentitiesReport, PassportResult, SipReport, SipSignal, SipVerifyError,
    SIGN_DATE_WINDOW,
};
