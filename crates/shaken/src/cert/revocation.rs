//! Revocation of an STI certificate path: which CRLs apply to each
//! certificate (direct CRLs of the issuing CA, and indirect CRLs such as the
//! STI-PA CRL that a CRL distribution point names as its cRLIssuer), whether
//! they are authentic and current, and whether they revoke it (RFC 5280
//! §6.3, specs §5.2). Reading a CRL is [`crl`](super::crl); this file decides
//! what the CRLs mean for a path that [`validate_chain`](super::validate_chain)
//! built. The verification time is an argument.

use super::crl::{name_key, NameKey};
use super::{fmt_time, Certificate, ChainError, Crl, TrustAnchors};
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};

/// What the revocation check needs to know about one certificate.
struct RevInfo {
    subject_key: NameKey,
    issuer_key: NameKey,
    /// The cRLIssuer names of the CRL distribution points (indirect CRLs).
    crl_issuers: Vec<NameKey>,
    spki: Vec<u8>,
    /// keyUsage absent, or present with cRLSign.
    may_sign_crls: bool,
}

fn rev_info(cert: &Certificate) -> Option<RevInfo> {
    let (_, x) = x509_parser::parse_x509_certificate(cert.der()).ok()?;
    let mut crl_issuers = Vec::new();
    let mut may_sign_crls = true;
    for ext in x.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => {
                for p in &points.points {
                    for n in p.crl_issuer.iter().flatten() {
                        if let GeneralName::DirectoryName(dn) = n {
                            crl_issuers.push(name_key(dn));
                        }
                    }
                }
            }
            ParsedExtension::KeyUsage(ku) => may_sign_crls = ku.crl_sign(),
            _ => {}
        }
    }
    Some(RevInfo {
        subject_key: name_key(x.subject()),
        issuer_key: name_key(x.issuer()),
        crl_issuers,
        spki: x.tbs_certificate.subject_pki.raw.to_vec(),
        may_sign_crls,
    })
}

/// Checks every certificate of the validated path (end-entity first, then
/// the intermediates used; not the anchor) against the CRLs that apply to
/// it: a CRL applies when its issuer is the certificate's issuer (direct
/// CRL) or a cRLIssuer of the certificate's CRL distribution point (an
/// indirect CRL such as the STI-PA CRL). An applicable CRL must be signed by
/// a certificate of the validated path or a trust anchor named like the CRL
/// issuer (with cRLSign when it has keyUsage), must be a complete CRL, and
/// must not be past its `nextUpdate` at `now`. Returns whether the
/// end-entity was covered by at least one CRL.
pub(super) fn check_revocation(
    path: &[&Certificate],
    anchors: &TrustAnchors,
    crls: &[Crl],
    now: i64,
) -> Result<bool, ChainError> {
    let mut leaf_covered = false;
    if crls.is_empty() {
        return Ok(false);
    }
    let signers: Vec<RevInfo> = path
        .iter()
        .skip(1)
        .copied()
        .chain(anchors.certificates())
        .filter_map(rev_info)
        .filter(|s| s.may_sign_crls)
        .collect();
    for (index, cert) in path.iter().enumerate() {
        let is_ee = index == 0;
        let Some(info) = rev_info(cert) else {
            continue;
        };
        let subject = cert.subject().to_owned();
        let invalid = |detail: String| ChainError::CrlInvalid {
            subject: subject.clone(),
            detail,
        };
        for crl in crls {
            let direct = crl.issuer_key() == &info.issuer_key;
            let indirect = info.crl_issuers.iter().any(|k| k == crl.issuer_key());
            if !direct && !indirect {
                continue;
            }
            let scope = crl.scope();
            if (scope.only_user_certs && !is_ee)
                || (scope.only_ca_certs && is_ee)
                || scope.partitioned
            {
                continue;
            }
            if let Some(why) = crl.unsupported() {
                return Err(invalid(format!("CRL issued by '{}': {why}", crl.issuer())));
            }
            let candidates: Vec<&RevInfo> = signers
                .iter()
                .filter(|s| &s.subject_key == crl.issuer_key())
                .collect();
            if candidates.is_empty() {
                return Err(invalid(format!(
                    "no trust anchor or certificate of the chain is named '{}' (with cRLSign) to check the CRL signature; add the CRL signer's certificate to the trust anchors",
                    crl.issuer()
                )));
            }
            let mut last_err = String::new();
            let verified = candidates
                .iter()
                .any(|s| match crl.verify_signature(&s.spki) {
                    Ok(()) => true,
                    Err(e) => {
                        last_err = e;
                        false
                    }
                });
            if !verified {
                return Err(invalid(format!(
                    "the signature of the CRL issued by '{}' does not verify with the key of any certificate of that name ({last_err})",
                    crl.issuer()
                )));
            }
            if crl.this_update() > now {
                return Err(invalid(format!(
                    "the CRL issued by '{}' is dated {} (thisUpdate), after the verification time {}",
                    crl.issuer(),
                    fmt_time(crl.this_update()),
                    fmt_time(now)
                )));
            }
            match crl.next_update() {
                None => {
                    return Err(invalid(format!(
                        "the CRL issued by '{}' has no nextUpdate (RFC 5280 requires one)",
                        crl.issuer()
                    )))
                }
                Some(next_update) if next_update < now => {
                    return Err(ChainError::CrlExpired {
                        subject,
                        next_update,
                        now,
                    })
                }
                Some(_) => {}
            }
            if crl.revokes(cert.serial_hex(), &info.issuer_key) {
                return Err(ChainError::Revoked {
                    subject,
                    serial: cert.serial_hex().to_owned(),
                });
            }
            if is_ee {
                leaf_covered = true;
            }
        }
    }
    Ok(leaf_covered)
}

/// The CRL distribution point URIs of a certificate with, for each, the
/// cRLIssuer DN (RFC 4514-style) when the point names one.
pub fn crl_distribution_points(cert: &Certificate) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let Ok((_, x)) = x509_parser::parse_x509_certificate(cert.der()) else {
        return out;
    };
    for ext in x.extensions() {
        if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
            for p in &points.points {
                let issuer = p.crl_issuer.iter().flatten().find_map(|n| match n {
                    GeneralName::DirectoryName(dn) => Some(dn.to_string()),
                    _ => None,
                });
                if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                    for n in names {
                        if let GeneralName::URI(u) = n {
                            out.push(((*u).to_owned(), issuer.clone()));
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::crl_distribution_points;
    use crate::cert::test_lab::*;
    use crate::cert::{
        parse_chain, validate_chain, Certificate, ChainError, ChainPolicy, Crl, TrustAnchors,
    };
    use crate::pki::LabPki;
    use crate::Limits;

    #[test]
    fn revoked_leaf() {
        let pki = lab();
        let mut o = leaf_opts();
        o.serial = Some(0x0123_4567_89ab_cdef);
        let leaf = pki.issue_leaf(&o).unwrap();
        let c = crl(&pki, &[0x0123_4567_89ab_cdef], T0, NOW + DAY);
        let err = validate_chain(
            &chain_of(&pki, &leaf.cert_pem),
            &anchors(&pki),
            &[c],
            NOW,
            &ChainPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ChainError::Revoked {
                subject: "CN=SHAKEN 1234, O=Shaken Lab, C=US".into(),
                serial: "0123456789abcdef".into(),
            }
        );
        assert_eq!(err.code(), "cert-revoked");
        // Another serial revoked: passes.
        let c = crl(&pki, &[42], T0, NOW + DAY);
        validate_chain(
            &chain_of(&pki, &leaf.cert_pem),
            &anchors(&pki),
            &[c],
            NOW,
            &ChainPolicy::default(),
        )
        .unwrap();
    }

    #[test]
    fn crl_expired() {
        let pki = lab();
        let c = crl(&pki, &[], T0, T0 + DAY);
        let chain = parse_chain(pki.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        let err =
            validate_chain(&chain, &anchors(&pki), &[c], NOW, &ChainPolicy::default()).unwrap_err();
        assert_eq!(
            err,
            ChainError::CrlExpired {
                subject: "CN=SHAKEN 1234, O=Shaken Lab, C=US".into(),
                next_update: T0 + DAY,
                now: NOW
            }
        );
        assert_eq!(err.code(), "crl-expired");
    }

    #[test]
    fn crl_from_other_ca_is_not_authoritative() {
        let pki = lab();
        let other = lab();
        let c = crl(&other, &[], T0, NOW + DAY);
        let chain = parse_chain(pki.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        // Same issuer name, different key: a forged CRL. With the status
        // allowed to be unknown webpki reports the bad signature.
        let res = validate_chain(
            &chain,
            &anchors(&pki),
            std::slice::from_ref(&c),
            NOW,
            &ChainPolicy::default(),
        );
        match res {
            Err(e) => assert_eq!(e.code(), "crl-invalid", "{e}"),
            Ok(_) => panic!("forged CRL accepted"),
        }
        let strict = ChainPolicy {
            crl_required: true,
            ..ChainPolicy::default()
        };
        assert!(validate_chain(&chain, &anchors(&pki), &[c], NOW, &strict).is_err());
    }

    #[test]
    fn crl_required_without_crl() {
        let pki = lab();
        let chain = parse_chain(pki.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        let strict = ChainPolicy {
            crl_required: true,
            ..ChainPolicy::default()
        };
        let err = validate_chain(&chain, &anchors(&pki), &[], NOW, &strict).unwrap_err();
        assert_eq!(err.code(), "cert-revocation-unknown");
    }

    /// A lab STI-PA CRL signer: self-signed "STI-PA CRL" with cRLSign.
    struct StiPa {
        cert: rcgen::Certificate,
        key: rcgen::KeyPair,
    }

    fn sti_pa() -> StiPa {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::LocalityName, "Bridgewater");
        dn.push(rcgen::DnType::StateOrProvinceName, "NJ");
        dn.push(rcgen::DnType::CommonName, "STI-PA CRL");
        dn.push(rcgen::DnType::CountryName, "US");
        dn.push(rcgen::DnType::OrganizationName, "STI-PA");
        p.distinguished_name = dn;
        p.not_before = time::OffsetDateTime::from_unix_timestamp(T0).unwrap();
        p.not_after = time::OffsetDateTime::from_unix_timestamp(T0 + 365 * DAY).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        let cert = p.self_signed(&key).unwrap();
        StiPa { cert, key }
    }

    impl StiPa {
        fn name_der(&self) -> Vec<u8> {
            let (_, x) = x509_parser::parse_x509_certificate(self.cert.der()).unwrap();
            x.subject().as_raw().to_vec()
        }
        fn crl(&self, revoked: &[u64], this: i64, next: i64) -> Crl {
            let params = rcgen::CertificateRevocationListParams {
                this_update: time::OffsetDateTime::from_unix_timestamp(this).unwrap(),
                next_update: time::OffsetDateTime::from_unix_timestamp(next).unwrap(),
                crl_number: rcgen::SerialNumber::from(7u64),
                issuing_distribution_point: None,
                revoked_certs: revoked
                    .iter()
                    .map(|s| rcgen::RevokedCertParams {
                        serial_number: rcgen::SerialNumber::from(*s),
                        revocation_time: time::OffsetDateTime::from_unix_timestamp(this).unwrap(),
                        reason_code: None,
                        invalidity_date: None,
                    })
                    .collect(),
                key_identifier_method: rcgen::KeyIdMethod::Sha256,
            };
            let crl = params.signed_by(&self.cert, &self.key).unwrap();
            Crl::from_pem_or_der(crl.der(), &Limits::default()).unwrap()
        }
    }

    /// A leaf whose CDP names the STI-PA CRL issuer (cRLIssuer), serial 0x5a5a…
    fn leaf_with_crl_issuer(pki: &LabPki, pa: &StiPa) -> Vec<Certificate> {
        let mut o = leaf_opts();
        o.serial = Some(0x5a5a_5a5a_5a5a_5a5a);
        let (mut params, key) = pki.leaf_params(&o).unwrap();
        params.custom_extensions.pop(); // the lab CDP
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[2, 5, 29, 31],
                crate::cert::cdp_extension_der(
                    "https://authenticate-api.iconectiv.com/download/v1/crl",
                    Some(&pa.name_der()),
                ),
            ));
        let leaf = pki.issue_custom(params, &key).unwrap();
        chain_of(pki, &leaf.cert_pem)
    }

    fn anchors_with(pki: &LabPki, pa: &StiPa) -> TrustAnchors {
        let mut a = anchors(pki);
        a.add_der(pa.cert.der()).unwrap();
        a
    }

    #[test]
    fn indirect_sti_pa_crl_revokes() {
        let pki = lab();
        let pa = sti_pa();
        let chain = leaf_with_crl_issuer(&pki, &pa);
        let points = crl_distribution_points(&chain[0]);
        assert_eq!(points.len(), 1);
        assert!(
            points[0].1.as_deref().unwrap().contains("CN=STI-PA CRL"),
            "{points:?}"
        );
        let crl = pa.crl(&[0x5a5a_5a5a_5a5a_5a5a], T0, NOW + DAY);
        let err = validate_chain(
            &chain,
            &anchors_with(&pki, &pa),
            &[crl],
            NOW,
            &ChainPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ChainError::Revoked {
                subject: "CN=SHAKEN 1234, O=Shaken Lab, C=US".into(),
                serial: "5a5a5a5a5a5a5a5a".into()
            }
        );
        // Not listed: passes, and covers the leaf when a CRL is required.
        let crl = pa.crl(&[1, 2, 3], T0, NOW + DAY);
        let strict = ChainPolicy {
            crl_required: true,
            ..ChainPolicy::default()
        };
        validate_chain(&chain, &anchors_with(&pki, &pa), &[crl], NOW, &strict).unwrap();
    }

    #[test]
    fn indirect_crl_expired() {
        let pki = lab();
        let pa = sti_pa();
        let chain = leaf_with_crl_issuer(&pki, &pa);
        let crl = pa.crl(&[], T0, T0 + DAY);
        let err = validate_chain(
            &chain,
            &anchors_with(&pki, &pa),
            &[crl],
            NOW,
            &ChainPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "crl-expired");
        assert!(err.to_string().contains("2026-01-02T00:00:00Z"), "{err}");
    }

    #[test]
    fn indirect_crl_needs_its_signer_in_the_anchors() {
        let pki = lab();
        let pa = sti_pa();
        let chain = leaf_with_crl_issuer(&pki, &pa);
        let crl = pa.crl(&[], T0, NOW + DAY);
        let err = validate_chain(&chain, &anchors(&pki), &[crl], NOW, &ChainPolicy::default())
            .unwrap_err();
        assert_eq!(err.code(), "crl-invalid");
        assert!(err.to_string().contains("STI-PA CRL"), "{err}");
    }

    #[test]
    fn forged_indirect_crl_is_invalid() {
        let pki = lab();
        let pa = sti_pa();
        let forger = sti_pa(); // same name, another key
        let chain = leaf_with_crl_issuer(&pki, &pa);
        let crl = forger.crl(&[], T0, NOW + DAY);
        let err = validate_chain(
            &chain,
            &anchors_with(&pki, &pa),
            &[crl],
            NOW,
            &ChainPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "crl-invalid");
        assert!(err.to_string().contains("does not verify"), "{err}");
    }

    #[test]
    fn indirect_crl_does_not_apply_without_crl_issuer() {
        // A leaf whose CDP has no cRLIssuer: the STI-PA CRL says nothing
        // about it.
        let pki = lab();
        let pa = sti_pa();
        let (mut params, key) = pki.leaf_params(&leaf_opts()).unwrap();
        params.custom_extensions.pop(); // the lab CDP, with cRLIssuer
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[2, 5, 29, 31],
                crate::cert::cdp_extension_der("http://127.0.0.1/crl.pem", None),
            ));
        let leaf = pki.issue_custom(params, &key).unwrap();
        let chain = chain_of(&pki, &leaf.cert_pem);
        assert_eq!(crl_distribution_points(&chain[0])[0].1, None);
        let crl = pa.crl(&[], T0, NOW + DAY);
        validate_chain(
            &chain,
            &anchors_with(&pki, &pa),
            std::slice::from_ref(&crl),
            NOW,
            &ChainPolicy::default(),
        )
        .unwrap();
        let strict = ChainPolicy {
            crl_required: true,
            ..ChainPolicy::default()
        };
        let err =
            validate_chain(&chain, &anchors_with(&pki, &pa), &[crl], NOW, &strict).unwrap_err();
        assert_eq!(err.code(), "cert-revocation-unknown");
    }
}
