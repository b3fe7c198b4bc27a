//! A lab STI PKI made with rcgen: a root ("SHAKEN Lab ROOT"), an intermediate
//! STI-CA ("SHAKEN Lab STI-CA"), an end-entity (`SHAKEN <SPC>`), a lab
//! "STI-PA CRL" signer and an empty CRL, following the ATIS-1000080 v005
//! profile (specs §5.2): root, intermediate and end-entity lint clean.
//!
//! Revocation is modelled as in the real SHAKEN PKI: the CAs carry
//! keyUsage keyCertSign only, so they cannot sign CRLs; the CRL is an
//! INDIRECT CRL signed by a separate self-signed CRL signer
//! ("SHAKEN Lab STI-PA CRL", keyUsage cRLSign), named by the cRLIssuer of the
//! intermediate's and end-entity's CRL distribution point. The verifier
//! ([`crate::cert::validate_chain`]) checks a CRL signature with the key of a
//! trust anchor or of a certificate of the validated path, so the CRL signer
//! is given to it as a trust anchor next to the root ([`LabPki::anchors_pem`]).
//!
//! For tests, demos and `shaken pki` commands: every validity time is an
//! argument, keys are fresh ECDSA P-256 keys, and serials are 64+ random bits.
//! Nothing here reads a clock.

use crate::cert::{TnAuthList, TnAuthListError, TnEntry};
use crate::crypto::backend;
use backend::rand::SecureRandom;
use der::asn1::ObjectIdentifier;
use der::{Encode, Sequence};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CustomExtension,
    DistinguishedName, DnType, DnValue, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SerialNumber, PKCS_ECDSA_P256_SHA256,
};

/// The SHAKEN CP v1.4 policy OID put in the intermediate and end-entity.
pub const LAB_POLICY_OID: &str = "2.16.840.1.114569.1.1.4";

/// The CN of the lab CRL signer (the lab stand-in for the STI-PA's
/// `CN=STI-PA CRL`).
pub const LAB_CRL_SIGNER_CN: &str = "SHAKEN Lab STI-PA CRL";

const OID_CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];
const OID_CRL_DISTRIBUTION_POINTS: &[u64] = &[2, 5, 29, 31];
const OID_TN_AUTH_LIST_ARCS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 26];

/// Why the lab PKI could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// rcgen refused to build or sign something.
    #[error("could not make the lab {what}: {source}")]
    Rcgen {
        /// What was being made ("root certificate", "CRL", …).
        what: &'static str,
        /// The rcgen error.
        #[source]
        source: rcgen::Error,
    },
    /// The TNAuthList for the end-entity is invalid.
    #[error("invalid TNAuthList for the lab end-entity certificate: {0}")]
    TnAuthList(#[from] TnAuthListError),
    /// A DER encoding step failed.
    #[error("could not encode the {what} extension: {reason}")]
    Der {
        /// Which extension.
        what: &'static str,
        /// The der crate's error.
        reason: String,
    },
    /// A time is outside what X.509 can carry.
    #[error("{what} {value} is not a representable certificate time")]
    Time {
        /// Which time.
        what: &'static str,
        /// The unix seconds given.
        value: i64,
    },
    /// The operating-system RNG failed.
    #[error("the system random number generator failed while making a serial number")]
    Rng,
    /// A direct CRL was asked of an intermediate without cRLSign (the
    /// default: ATIS-1000080 v005 CAs carry keyCertSign only).
    #[error("the lab intermediate has no cRLSign and cannot sign a direct CRL; generate the PKI with LabPkiOptions::ca_crl_sign, or use issue_crl (the indirect STI-PA-style CRL)")]
    CaNotCrlSigner,
    /// The SPC is unusable in a CN / TNAuthList.
    #[error("invalid SPC {spc:?}: {reason}")]
    BadSpc {
        /// The SPC given.
        spc: String,
        /// Why.
        reason: &'static str,
    },
}

/// The lab PKI generator: no SIP code, no verstat.
impl crate::diagnostic::Diagnostic for PkiError {
    fn id(&self) -> &'static str {
        match self {
            PkiError::Rcgen { .. } => "pki-rcgen",
            PkiError::TnAuthList(_) => "pki-tnauthlist",
            PkiError::Der { .. } => "pki-der",
            PkiError::Time { .. } => "pki-time",
            PkiError::Rng => "pki-rng",
            PkiError::CaNotCrlSigner => "pki-ca-not-crl-signer",
            PkiError::BadSpc { .. } => "pki-bad-spc",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

/// A certificate and its private key.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The private key, PKCS#8 PEM (`PRIVATE KEY`).
    pub key_pem: String,
}

/// Options for [`LabPki::generate`].
#[derive(Debug, Clone)]
pub struct LabPkiOptions {
    /// The SPC of the end-entity (CN `SHAKEN <spc>`). Default "1234".
    pub spc: String,
    /// The O= of every certificate. Default "Shaken Lab".
    pub org: String,
    /// `notBefore` of every certificate, unix seconds.
    pub not_before: i64,
    /// `notAfter` of every certificate, unix seconds.
    pub not_after: i64,
    /// The CRL distribution point URL. Default `http://127.0.0.1/crl.pem`.
    pub crl_url: String,
    /// Give the intermediate cRLSign as well as keyCertSign, so that
    /// [`LabPki::issue_direct_crl`] works. Default false: v005 allows a CA
    /// keyCertSign only, and the lint reports
    /// `e_ca_key_usage_not_cert_sign_only` when this is set.
    pub ca_crl_sign: bool,
    /// JWT claim constraints (RFC 9118 EnhancedJWTClaimConstraints) for the
    /// SP certificate, e.g. on Rich Call Data: `rcd` must be present and be
    /// one name (RFC 9795 §6.2). Default none.
    pub sp_claim_constraints: Option<crate::cert::claim_constraints::ClaimConstraints>,
    /// The root's private key (PKCS#8 PEM) instead of a fresh P-256 one:
    /// an RSA key gives an RSA root that signs the intermediate with
    /// sha256WithRSAEncryption, as some roots on the STI-PA list do.
    pub root_key_pem: Option<String>,
}

impl LabPkiOptions {
    /// Defaults with the given validity.
    pub fn new(not_before: i64, not_after: i64) -> Self {
        LabPkiOptions {
            spc: "1234".to_owned(),
            org: "Shaken Lab".to_owned(),
            not_before,
            not_after,
            crl_url: "http://127.0.0.1/crl.pem".to_owned(),
            ca_crl_sign: false,
            sp_claim_constraints: None,
            root_key_pem: None,
        }
    }
}

/// Options for [`LabPki::issue_leaf`].
#[derive(Debug, Clone)]
pub struct LeafOptions {
    /// The SPC; `None` uses the PKI's SPC.
    pub spc: Option<String>,
    /// Extra `one`/`range` TNAuthList entries (delegate-style certificates).
    pub tns: Vec<TnEntry>,
    /// `notBefore`, unix seconds.
    pub not_before: i64,
    /// `notAfter`, unix seconds.
    pub not_after: i64,
    /// KeyUsage digitalSignature (default true). False gives keyCertSign
    /// only, to test the profile check.
    pub digital_signature: bool,
    /// Include the TNAuthList extension (default true).
    pub tn_auth_list: bool,
    /// A fixed serial; `None` draws 64 random bits.
    pub serial: Option<u64>,
    /// JWT claim constraints (RFC 9118, `id-pe 33`) to put in the
    /// certificate. Default none.
    pub claim_constraints: Option<crate::cert::claim_constraints::ClaimConstraints>,
}

impl LeafOptions {
    /// Defaults with the given validity.
    pub fn new(not_before: i64, not_after: i64) -> Self {
        LeafOptions {
            spc: None,
            tns: Vec::new(),
            not_before,
            not_after,
            digital_signature: true,
            tn_auth_list: true,
            serial: None,
            claim_constraints: None,
        }
    }
}

/// The lab PKI: three STI certificates, the CRL signer, an empty CRL, and
/// the intermediate's and CRL signer's keys so that more leaves and CRLs can
/// be issued.
pub struct LabPki {
    /// The self-signed root ("SHAKEN Lab ROOT"): the trust anchor of the
    /// certificate chains.
    pub root: Issued,
    /// The intermediate STI-CA ("SHAKEN Lab STI-CA"), keyUsage keyCertSign.
    pub ca: Issued,
    /// The end-entity (`SHAKEN <spc>`).
    pub leaf: Issued,
    /// The self-signed CRL signer ("SHAKEN Lab STI-PA CRL", keyUsage
    /// cRLSign): signs [`LabPki::crl`] and [`LabPki::issue_crl`]; a verifier
    /// needs it among its trust anchors to check those CRLs.
    pub crl_signer: Issued,
    /// An empty indirect CRL, PEM, signed by the CRL signer, valid over the
    /// PKI's validity.
    pub crl: String,
    opts: LabPkiOptions,
    ca_cert: rcgen::Certificate,
    ca_key: KeyPair,
    ca_ski: Vec<u8>,
    crl_signer_cert: rcgen::Certificate,
    crl_signer_key: KeyPair,
    crl_signer_ski: Vec<u8>,
    /// DER of the CRL signer's subject Name (the cRLIssuer of the CDPs).
    crl_issuer_der: Vec<u8>,
}

impl std::fmt::Debug for LabPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabPki")
            .field("root", &self.root.cert_pem)
            .field("ca", &self.ca.cert_pem)
            .field("leaf", &self.leaf.cert_pem)
            .field("crl_signer", &self.crl_signer.cert_pem)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

fn rc(what: &'static str) -> impl FnOnce(rcgen::Error) -> PkiError {
    move |source| PkiError::Rcgen { what, source }
}

fn when(what: &'static str, value: i64) -> Result<time::OffsetDateTime, PkiError> {
    time::OffsetDateTime::from_unix_timestamp(value).map_err(|_| PkiError::Time { what, value })
}

/// 16 random bytes with the top bit cleared and a non-zero first byte:
/// a positive 127-bit serial (≥ 64 bits of CSPRNG output, ATIS v005).
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    backend::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Rng)?;
    if let Some(first) = bytes.first_mut() {
        *first = (*first & 0x7f) | 0x40;
    }
    Ok(SerialNumber::from_slice(&bytes))
}

/// SKI per RFC 5280 §4.2.1.2 method 1 (ATIS v005): SHA-1 of the
/// subjectPublicKey BIT STRING value.
fn ski(key: &KeyPair) -> Vec<u8> {
    crate::crypto::sha1(key.public_key_raw()).to_vec()
}

fn dn(cn: &str, org: &str) -> Result<DistinguishedName, PkiError> {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, org);
    let country = rcgen::PrintableString::try_from("US").map_err(|e| PkiError::Rcgen {
        what: "country name",
        source: e,
    })?;
    dn.push(DnType::CountryName, DnValue::PrintableString(country));
    Ok(dn)
}

#[derive(Sequence)]
struct PolicyInformation {
    policy_identifier: ObjectIdentifier,
}

/// A CertificatePolicies extension (non-critical) with one policy OID and no
/// qualifiers, for [`LabPki::issue_custom`] parameters.
pub fn policies_extension(oid: &str) -> Result<CustomExtension, PkiError> {
    let bad = |e: der::Error| PkiError::Der {
        what: "certificatePolicies",
        reason: e.to_string(),
    };
    let oid = ObjectIdentifier::new(oid).map_err(|e| PkiError::Der {
        what: "certificatePolicies",
        reason: e.to_string(),
    })?;
    let der = vec![PolicyInformation {
        policy_identifier: oid,
    }]
    .to_der()
    .map_err(bad)?;
    Ok(CustomExtension::from_oid_content(
        OID_CERTIFICATE_POLICIES,
        der,
    ))
}

/// The CRLDistributionPoints extension (non-critical) ATIS-1000080 v004+
/// requires: one DistributionPoint with `uri` and the cRLIssuer
/// `crl_issuer_der` (DER of a Name).
fn cdp_extension(uri: &str, crl_issuer_der: &[u8]) -> CustomExtension {
    CustomExtension::from_oid_content(
        OID_CRL_DISTRIBUTION_POINTS,
        crate::cert::cdp_extension_der(uri, Some(crl_issuer_der)),
    )
}

/// The DER of the subject Name of a certificate rcgen just made.
fn subject_der(cert: &rcgen::Certificate) -> Result<Vec<u8>, PkiError> {
    let (_, x) = x509_parser::parse_x509_certificate(cert.der()).map_err(|e| PkiError::Der {
        what: "CRL signer subject",
        reason: e.to_string(),
    })?;
    Ok(x.subject().as_raw().to_vec())
}

fn check_spc(spc: &str) -> Result<(), PkiError> {
    let bad = |reason| PkiError::BadSpc {
        spc: spc.to_owned(),
        reason,
    };
    if spc.is_empty() {
        return Err(bad("empty"));
    }
    if !spc.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("only printable ASCII without spaces is allowed"));
    }
    Ok(())
}

fn issued(cert: &rcgen::Certificate, key: &KeyPair) -> Issued {
    Issued {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
    }
}

/// Signs a CRL revoking `revoked_serials` with `cert`/`key` (AKI `key_id`).
fn sign_crl(
    cert: &rcgen::Certificate,
    key: &KeyPair,
    key_id: &[u8],
    revoked_serials: &[u64],
    this_update: i64,
    next_update: i64,
) -> Result<String, PkiError> {
    let tu = when("this_update", this_update)?;
    let nu = when("next_update", next_update)?;
    let params = CertificateRevocationListParams {
        this_update: tu,
        next_update: nu,
        crl_number: random_serial()?,
        issuing_distribution_point: None,
        revoked_certs: revoked_serials
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from(*s),
                revocation_time: tu,
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::PreSpecified(key_id.to_vec()),
    };
    let crl = params.signed_by(cert, key).map_err(rc("CRL"))?;
    crl.pem().map_err(rc("CRL PEM"))
}

impl LabPki {
    /// Makes the root, the intermediate, the CRL signer, the default leaf and
    /// an empty CRL.
    pub fn generate(opts: &LabPkiOptions) -> Result<LabPki, PkiError> {
        check_spc(&opts.spc)?;
        let nb = when("not_before", opts.not_before)?;
        let na = when("not_after", opts.not_after)?;

        // Root: self-signed, CA:TRUE, keyCertSign, SKI, no CP/CDP.
        let root_key = match &opts.root_key_pem {
            Some(pem) => KeyPair::from_pem(pem).map_err(rc("root key"))?,
            None => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(rc("root key"))?,
        };
        let mut p = CertificateParams::default();
        p.distinguished_name = dn("SHAKEN Lab ROOT", &opts.org)?;
        p.not_before = nb;
        p.not_after = na;
        p.serial_number = Some(random_serial()?);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        p.key_identifier_method = KeyIdMethod::PreSpecified(ski(&root_key));
        let root_cert = p.self_signed(&root_key).map_err(rc("root certificate"))?;

        // CRL signer: self-signed, CA:FALSE, keyUsage cRLSign only, SKI. It
        // is not an STI certificate (no CP, CDP or TNAuthList).
        let signer_key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(rc("CRL signer key"))?;
        let signer_ski = ski(&signer_key);
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(LAB_CRL_SIGNER_CN, &opts.org)?;
        p.not_before = nb;
        p.not_after = na;
        p.serial_number = Some(random_serial()?);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::CrlSign];
        p.key_identifier_method = KeyIdMethod::PreSpecified(signer_ski.clone());
        let signer_cert = p
            .self_signed(&signer_key)
            .map_err(rc("CRL signer certificate"))?;
        let crl_issuer_der = subject_der(&signer_cert)?;

        // Intermediate: CA:TRUE pathlen 0, keyCertSign, AKI, one CP OID, CDP
        // naming the CRL signer as cRLIssuer.
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(rc("STI-CA key"))?;
        let ca_ski = ski(&ca_key);
        let mut p = CertificateParams::default();
        p.distinguished_name = dn("SHAKEN Lab STI-CA", &opts.org)?;
        p.not_before = nb;
        p.not_after = na;
        p.serial_number = Some(random_serial()?);
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = if opts.ca_crl_sign {
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign]
        } else {
            vec![KeyUsagePurpose::KeyCertSign]
        };
        p.key_identifier_method = KeyIdMethod::PreSpecified(ca_ski.clone());
        p.use_authority_key_identifier_extension = true;
        p.custom_extensions = vec![
            policies_extension(LAB_POLICY_OID)?,
            cdp_extension(&opts.crl_url, &crl_issuer_der),
        ];
        let ca_cert = p
            .signed_by(&ca_key, &root_cert, &root_key)
            .map_err(rc("STI-CA certificate"))?;

        let mut pki = LabPki {
            root: issued(&root_cert, &root_key),
            ca: issued(&ca_cert, &ca_key),
            leaf: Issued {
                cert_pem: String::new(),
                cert_der: Vec::new(),
                key_pem: String::new(),
            },
            crl_signer: issued(&signer_cert, &signer_key),
            crl: String::new(),
            opts: opts.clone(),
            ca_cert,
            ca_key,
            ca_ski,
            crl_signer_cert: signer_cert,
            crl_signer_key: signer_key,
            crl_signer_ski: signer_ski,
            crl_issuer_der,
        };
        let mut leaf = LeafOptions::new(opts.not_before, opts.not_after);
        leaf.claim_constraints = opts.sp_claim_constraints.clone();
        pki.leaf = pki.issue_leaf(&leaf)?;
        pki.crl = pki.issue_crl(&[], opts.not_before, opts.not_after)?;
        Ok(pki)
    }

    /// Issues an end-entity certificate signed by the intermediate: CN
    /// `SHAKEN <SPC>`, O, C=US, CA:FALSE, keyUsage digitalSignature, SKI,
    /// AKI, the CP OID, a TNAuthList with the SPC (plus `opts.tns`) and the
    /// CDP (URL and cRLIssuer = the CRL signer).
    pub fn issue_leaf(&self, opts: &LeafOptions) -> Result<Issued, PkiError> {
        let (params, key) = self.leaf_params(opts)?;
        let cert = params
            .signed_by(&key, &self.ca_cert, &self.ca_key)
            .map_err(rc("leaf certificate"))?;
        Ok(issued(&cert, &key))
    }

    /// Issues an indirect CRL (PEM) signed by the CRL signer, revoking
    /// `revoked_serials` as of `this_update`. It applies to the lab's
    /// intermediate and end-entities through the cRLIssuer of their CDP, as
    /// the STI-PA CRL does; a verifier needs [`LabPki::crl_signer`] among its
    /// trust anchors to check it.
    pub fn issue_crl(
        &self,
        revoked_serials: &[u64],
        this_update: i64,
        next_update: i64,
    ) -> Result<String, PkiError> {
        sign_crl(
            &self.crl_signer_cert,
            &self.crl_signer_key,
            &self.crl_signer_ski,
            revoked_serials,
            this_update,
            next_update,
        )
    }

    /// Issues the indirect CRL like [`LabPki::issue_crl`], with an
    /// authorityInfoAccess extension whose `caIssuers` names `ca_issuers`
    /// (where the STI-PA CRL says its signer's certificate is), re-signed by
    /// the CRL signer. rcgen cannot add CRL extensions, so its CRL is decoded
    /// with x509-cert, extended and encoded again.
    pub fn issue_crl_with_aia(
        &self,
        revoked_serials: &[u64],
        this_update: i64,
        next_update: i64,
        ca_issuers: &str,
    ) -> Result<String, PkiError> {
        use x509_cert::der::asn1::{BitString, Ia5String, ObjectIdentifier, OctetString};
        use x509_cert::der::{Decode as _, Encode as _};
        use x509_cert::ext::pkix::name::GeneralName;
        use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};
        const ID_AD_CA_ISSUERS: ObjectIdentifier =
            ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");
        const ID_PE_AIA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
        let der_err = |what: &'static str| {
            move |e: x509_cert::der::Error| PkiError::Der {
                what,
                reason: e.to_string(),
            }
        };
        let pem = self.issue_crl(revoked_serials, this_update, next_update)?;
        let der = crate::cert::Crl::from_pem_or_der(pem.as_bytes(), &crate::Limits::default())
            .map_err(|e| PkiError::Der {
                what: "CRL",
                reason: e.to_string(),
            })?
            .der()
            .to_vec();
        let mut crl = x509_cert::crl::CertificateList::from_der(&der).map_err(der_err("CRL"))?;
        let aia = AuthorityInfoAccessSyntax(vec![AccessDescription {
            access_method: ID_AD_CA_ISSUERS,
            access_location: GeneralName::UniformResourceIdentifier(
                Ia5String::new(ca_issuers).map_err(der_err("caIssuers URI"))?,
            ),
        }]);
        let ext = x509_cert::ext::Extension {
            extn_id: ID_PE_AIA,
            critical: false,
            extn_value: OctetString::new(aia.to_der().map_err(der_err("authorityInfoAccess"))?)
                .map_err(der_err("authorityInfoAccess"))?,
        };
        crl.tbs_cert_list
            .crl_extensions
            .get_or_insert_with(Vec::new)
            .push(ext);
        let tbs = crl.tbs_cert_list.to_der().map_err(der_err("tbsCertList"))?;
        let rng = backend::rand::SystemRandom::new();
        let der = self.crl_signer_key.serialize_der();
        let alg = &backend::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
        #[cfg(feature = "aws-lc-rs")]
        let key = backend::signature::EcdsaKeyPair::from_pkcs8(alg, &der);
        #[cfg(not(feature = "aws-lc-rs"))]
        let key = backend::signature::EcdsaKeyPair::from_pkcs8(alg, &der, &rng);
        let key = key.map_err(|e| PkiError::Der {
            what: "CRL signer key",
            reason: e.to_string(),
        })?;
        let sig = key.sign(&rng, &tbs).map_err(|_| PkiError::Rng)?;
        crl.signature = BitString::from_bytes(sig.as_ref()).map_err(der_err("CRL signature"))?;
        let out = crl.to_der().map_err(der_err("CRL"))?;
        Ok(crate::trust::crl_to_pem(&out))
    }

    /// Issues a direct CRL (PEM) signed by the intermediate. Only for a PKI
    /// generated with [`LabPkiOptions::ca_crl_sign`] (else
    /// [`PkiError::CaNotCrlSigner`]): a v005 CA has no cRLSign and a
    /// verifier rejects CRLs it signs.
    pub fn issue_direct_crl(
        &self,
        revoked_serials: &[u64],
        this_update: i64,
        next_update: i64,
    ) -> Result<String, PkiError> {
        if !self.opts.ca_crl_sign {
            return Err(PkiError::CaNotCrlSigner);
        }
        sign_crl(
            &self.ca_cert,
            &self.ca_key,
            &self.ca_ski,
            revoked_serials,
            this_update,
            next_update,
        )
    }

    /// Signs arbitrary rcgen parameters with the intermediate CA: for
    /// negative tests and linter corpora (wrong key type, extra policies,
    /// malformed extensions…). The caller controls every field; no profile
    /// is applied.
    pub fn issue_custom(
        &self,
        params: CertificateParams,
        key: &KeyPair,
    ) -> Result<Issued, PkiError> {
        let cert = params
            .signed_by(key, &self.ca_cert, &self.ca_key)
            .map_err(rc("custom certificate"))?;
        Ok(issued(&cert, key))
    }

    /// The rcgen parameters [`LabPki::issue_leaf`] would use, for tests that
    /// change one thing and sign with [`LabPki::issue_custom`]. Returns the
    /// parameters and the fresh P-256 key they were made for.
    pub fn leaf_params(
        &self,
        opts: &LeafOptions,
    ) -> Result<(CertificateParams, KeyPair), PkiError> {
        let spc = opts.spc.as_deref().unwrap_or(&self.opts.spc);
        check_spc(spc)?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(rc("leaf key"))?;
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(&format!("SHAKEN {spc}"), &self.opts.org)?;
        p.not_before = when("not_before", opts.not_before)?;
        p.not_after = when("not_after", opts.not_after)?;
        p.serial_number = Some(match opts.serial {
            Some(s) => SerialNumber::from(s),
            None => random_serial()?,
        });
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = if opts.digital_signature {
            vec![KeyUsagePurpose::DigitalSignature]
        } else {
            vec![KeyUsagePurpose::KeyCertSign]
        };
        p.key_identifier_method = KeyIdMethod::PreSpecified(ski(&key));
        p.use_authority_key_identifier_extension = true;
        // Extensions in a fixed order that tests rely on: CP, TNAuthList
        // (when asked for), CDP last.
        let mut exts = vec![policies_extension(LAB_POLICY_OID)?];
        if opts.tn_auth_list {
            let mut entries = vec![TnEntry::Spc(spc.to_owned())];
            entries.extend(opts.tns.iter().cloned());
            let der = TnAuthList(entries).to_der()?;
            exts.push(CustomExtension::from_oid_content(
                OID_TN_AUTH_LIST_ARCS,
                der,
            ));
        }
        if let Some(c) = &opts.claim_constraints {
            let der = c.to_der().map_err(|e| PkiError::Der {
                what: "JWT claim constraints",
                reason: e.to_string(),
            })?;
            exts.push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 5, 5, 7, 1, 33],
                der,
            ));
        }
        exts.push(cdp_extension(&self.opts.crl_url, &self.crl_issuer_der));
        p.custom_extensions = exts;
        Ok((p, key))
    }

    /// The leaf PEM followed by the intermediate PEM: what an STI-CR serves
    /// at the x5u URL.
    pub fn leaf_chain_pem(&self) -> String {
        format!("{}{}", self.leaf.cert_pem, self.ca.cert_pem)
    }

    /// The trust anchors a verifier of this PKI needs: the root (for the
    /// chains) then the CRL signer (for the CRLs), PEM. `pki init` writes it
    /// as `anchors.pem`.
    pub fn anchors_pem(&self) -> String {
        format!("{}{}", self.root.cert_pem, self.crl_signer.cert_pem)
    }

    /// The DER of the CRL signer's subject Name: the cRLIssuer of the lab
    /// CDPs and the issuer of [`LabPki::issue_crl`] CRLs.
    pub fn crl_issuer_name_der(&self) -> &[u8] {
        &self.crl_issuer_der
    }

    /// The rcgen CRL distribution point extension the lab certificates carry
    /// (the PKI's CRL URL, cRLIssuer = the CRL signer), for
    /// [`LabPki::issue_custom`] parameters.
    pub fn cdp_extension(&self) -> CustomExtension {
        cdp_extension(&self.opts.crl_url, &self.crl_issuer_der)
    }

    /// The options the PKI was made with.
    pub fn options(&self) -> &LabPkiOptions {
        &self.opts
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::cert::lint::lint_chain;
    use crate::cert::{parse_chain, validate_chain, Certificate, ChainPolicy, Crl, TrustAnchors};
    use crate::Limits;
    use x509_parser::prelude::*;

    const T0: i64 = 1_767_225_600;

    fn pki() -> LabPki {
        LabPki::generate(&LabPkiOptions::new(T0, T0 + 86_400 * 365)).unwrap()
    }

    fn ext_map(der: &[u8]) -> Vec<(String, bool)> {
        let (_, c) = X509Certificate::from_der(der).unwrap();
        c.extensions()
            .iter()
            .map(|e| (e.oid.to_id_string(), e.critical))
            .collect()
    }

    #[test]
    fn root_profile() {
        let p = pki();
        let (_, c) = X509Certificate::from_der(&p.root.cert_der).unwrap();
        assert_eq!(
            c.subject().to_string(),
            "CN=SHAKEN Lab ROOT, O=Shaken Lab, C=US"
        );
        assert_eq!(c.subject(), c.issuer());
        let bc = c.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && bc.value.ca);
        let ku = c.key_usage().unwrap().unwrap();
        assert!(ku.critical && ku.value.key_cert_sign());
        assert_eq!(ku.value.flags, 1 << 5, "keyCertSign only (v005)");
        let exts: Vec<String> = ext_map(&p.root.cert_der).into_iter().map(|e| e.0).collect();
        assert!(!exts.contains(&"2.5.29.32".to_owned()), "root has no CP");
        assert!(!exts.contains(&"2.5.29.31".to_owned()), "root has no CDP");
        // SKI = SHA-1 of the public key.
        let ski_ext = c
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "2.5.29.14")
            .unwrap();
        match ski_ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => {
                let spk = &c.public_key().subject_public_key.data;
                assert_eq!(k.0.to_vec(), crate::crypto::sha1(spk).to_vec());
            }
            other => panic!("{other:?}"),
        }
        assert!(c.raw_serial().len() >= 8);
    }

    #[test]
    fn intermediate_profile() {
        let p = pki();
        let (_, c) = X509Certificate::from_der(&p.ca.cert_der).unwrap();
        assert_eq!(
            c.subject().to_string(),
            "CN=SHAKEN Lab STI-CA, O=Shaken Lab, C=US"
        );
        let bc = c.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && bc.value.ca);
        assert_eq!(bc.value.path_len_constraint, Some(0));
        let ku = c.key_usage().unwrap().unwrap();
        assert!(ku.critical);
        assert_eq!(ku.value.flags, 1 << 5, "keyCertSign only (v005)");
        let exts = ext_map(&p.ca.cert_der);
        assert!(exts.contains(&("2.5.29.35".to_owned(), false)), "AKI");
        assert!(exts.contains(&("2.5.29.32".to_owned(), false)), "CP");
        let cert = Certificate::from_der(p.ca.cert_der.clone(), &Limits::default()).unwrap();
        assert_eq!(cert.policy_oids(), [LAB_POLICY_OID]);
        assert_eq!(cert.crl_distribution_points(), ["http://127.0.0.1/crl.pem"]);
        assert_eq!(
            crate::cert::crl_distribution_points(&cert),
            [(
                "http://127.0.0.1/crl.pem".to_owned(),
                Some("CN=SHAKEN Lab STI-PA CRL, O=Shaken Lab, C=US".to_owned())
            )]
        );
        assert!(cert.tn_auth_list().is_none());
        // A v005 CA cannot sign a direct CRL.
        assert!(matches!(
            p.issue_direct_crl(&[], T0, T0 + 10).unwrap_err(),
            PkiError::CaNotCrlSigner
        ));
    }

    #[test]
    fn crl_signer_profile() {
        let p = pki();
        let (_, c) = X509Certificate::from_der(&p.crl_signer.cert_der).unwrap();
        assert_eq!(
            c.subject().to_string(),
            "CN=SHAKEN Lab STI-PA CRL, O=Shaken Lab, C=US"
        );
        assert_eq!(c.subject(), c.issuer());
        assert_eq!(c.subject().as_raw(), p.crl_issuer_name_der());
        let ku = c.key_usage().unwrap().unwrap();
        assert!(ku.critical && ku.value.crl_sign());
        assert_eq!(ku.value.flags, 1 << 6, "cRLSign only");
        let bc = c.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && !bc.value.ca);
        let exts: Vec<String> = ext_map(&p.crl_signer.cert_der)
            .into_iter()
            .map(|e| e.0)
            .collect();
        for oid in ["2.5.29.31", "2.5.29.32", "1.3.6.1.5.5.7.1.26"] {
            assert!(!exts.contains(&oid.to_owned()), "{oid}");
        }
        // The CRLs are indirect: issued by the signer, signed with its key.
        let crl = Crl::from_pem_or_der(p.crl.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(crl.issuer(), "CN=SHAKEN Lab STI-PA CRL, O=Shaken Lab, C=US");
        assert_eq!(crl.revoked_serials(), 0);
        // anchors.pem: the root then the signer.
        let anchors = parse_chain(p.anchors_pem().as_bytes(), &Limits::default()).unwrap();
        assert_eq!(anchors[0].der(), p.root.cert_der.as_slice());
        assert_eq!(anchors[1].der(), p.crl_signer.cert_der.as_slice());
    }

    #[test]
    fn lab_chain_lints_clean() {
        let p = pki();
        let chain = parse_chain(
            format!("{}{}", p.leaf_chain_pem(), p.root.cert_pem).as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        let findings = lint_chain(&chain);
        assert_eq!(findings, vec![], "leaf, intermediate and root lint clean");
        // A leaf with extra TNs is the caller's choice; the default is clean.
        let issued = p.issue_leaf(&LeafOptions::new(T0, T0 + 10)).unwrap();
        let chain = parse_chain(
            format!("{}{}", issued.cert_pem, p.ca.cert_pem).as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(lint_chain(&chain), vec![]);
        // With ca_crl_sign the intermediate is the old v004 shape.
        let mut o = LabPkiOptions::new(T0, T0 + 10);
        o.ca_crl_sign = true;
        let old = LabPki::generate(&o).unwrap();
        let chain = parse_chain(old.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        let codes: Vec<&str> = lint_chain(&chain).iter().map(|f| f.code).collect();
        assert_eq!(codes, ["e_ca_key_usage_not_cert_sign_only"]);
    }

    fn anchors(p: &LabPki) -> TrustAnchors {
        let mut a = TrustAnchors::new();
        assert_eq!(a.add_pem(p.anchors_pem().as_bytes()).unwrap(), 2);
        a
    }

    #[test]
    fn indirect_crl_revokes_with_the_signer_as_anchor() {
        let p = pki();
        let now = T0 + 86_400;
        let mut lo = LeafOptions::new(T0, T0 + 86_400 * 30);
        lo.serial = Some(0x1122_3344_5566_7788);
        let leaf = p.issue_leaf(&lo).unwrap();
        let chain = parse_chain(
            format!("{}{}", leaf.cert_pem, p.ca.cert_pem).as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        let crl = |pem: &str| Crl::from_pem_or_der(pem.as_bytes(), &Limits::default()).unwrap();
        let strict = ChainPolicy {
            crl_required: true,
            ..ChainPolicy::default()
        };
        // The empty lab CRL covers the leaf.
        validate_chain(&chain, &anchors(&p), &[crl(&p.crl)], now, &strict).unwrap();
        // Listed: revoked.
        let revoking = crl(&p.issue_crl(&[0x1122_3344_5566_7788], T0, now + 60).unwrap());
        let err = validate_chain(
            &chain,
            &anchors(&p),
            std::slice::from_ref(&revoking),
            now,
            &ChainPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "cert-revoked");
        // The root alone cannot check the CRL: the signer must be an anchor.
        let mut root_only = TrustAnchors::new();
        root_only.add_pem(p.root.cert_pem.as_bytes()).unwrap();
        let err = validate_chain(&chain, &root_only, &[revoking], now, &strict).unwrap_err();
        assert_eq!(err.code(), "crl-invalid");
        assert!(err.to_string().contains("SHAKEN Lab STI-PA CRL"), "{err}");
        // Without a CRL the root alone validates the chain.
        validate_chain(&chain, &root_only, &[], now, &ChainPolicy::default()).unwrap();
    }

    #[test]
    fn direct_crl_needs_ca_crl_sign() {
        let mut o = LabPkiOptions::new(T0, T0 + 86_400 * 30);
        o.ca_crl_sign = true;
        let p = LabPki::generate(&o).unwrap();
        let pem = p.issue_direct_crl(&[7], T0, T0 + 86_400 * 2).unwrap();
        let c = Crl::from_pem_or_der(pem.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(c.issuer(), "CN=SHAKEN Lab STI-CA, O=Shaken Lab, C=US");
        let chain = parse_chain(p.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        let mut root_only = TrustAnchors::new();
        root_only.add_pem(p.root.cert_pem.as_bytes()).unwrap();
        let strict = ChainPolicy {
            crl_required: true,
            ..ChainPolicy::default()
        };
        // The intermediate is on the path and has cRLSign: the root suffices.
        validate_chain(&chain, &root_only, &[c], T0 + 86_400, &strict).unwrap();
    }

    #[test]
    fn leaf_profile() {
        let p = pki();
        let (_, c) = X509Certificate::from_der(&p.leaf.cert_der).unwrap();
        assert_eq!(c.version(), X509Version::V3);
        let bc = c.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && !bc.value.ca);
        let ku = c.key_usage().unwrap().unwrap();
        assert!(ku.critical && ku.value.digital_signature());
        assert_eq!(ku.value.flags, 1, "digitalSignature only");
        let exts = ext_map(&p.leaf.cert_der);
        for oid in ["2.5.29.14", "2.5.29.35", "2.5.29.31"] {
            assert!(exts.iter().any(|e| e.0 == oid), "{oid}");
        }
        assert!(exts.contains(&("2.5.29.31".to_owned(), false)), "CDP");
        assert!(exts.contains(&("1.3.6.1.5.5.7.1.26".to_owned(), false)));
        assert!(exts.contains(&("2.5.29.32".to_owned(), false)));
        // AKI of the leaf = SKI of the CA.
        let aki = c
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.clone(),
                _ => None,
            })
            .unwrap();
        assert_eq!(aki.0, p.ca_ski.as_slice());
        // The TNAuthList is the explicit-tag SPC form.
        let tnal = c
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.26")
            .unwrap();
        assert_eq!(tnal.value, b"\x30\x08\xa0\x06\x16\x041234");
        // The key PEM is PKCS#8 and matches the certificate.
        assert!(p.leaf.key_pem.contains("BEGIN PRIVATE KEY"));
        let key = KeyPair::from_pem(&p.leaf.key_pem).unwrap();
        assert_eq!(
            key.public_key_raw(),
            c.public_key().subject_public_key.data.as_ref()
        );
        assert_eq!(
            c.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.10045.4.3.2"
        );
    }

    #[test]
    fn random_serials_differ() {
        let p = pki();
        let o = LeafOptions::new(T0, T0 + 10);
        let a = p.issue_leaf(&o).unwrap();
        let b = p.issue_leaf(&o).unwrap();
        let ca = Certificate::from_der(a.cert_der, &Limits::default()).unwrap();
        let cb = Certificate::from_der(b.cert_der, &Limits::default()).unwrap();
        assert_ne!(ca.serial_hex(), cb.serial_hex());
        assert!(ca.serial_hex().len() >= 16);
    }

    #[test]
    fn chain_pem_is_leaf_then_ca() {
        let p = pki();
        let chain = parse_chain(p.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        assert_eq!(chain[0].der(), p.leaf.cert_der.as_slice());
        assert_eq!(chain[1].der(), p.ca.cert_der.as_slice());
    }

    #[test]
    fn rejects_bad_inputs() {
        let mut o = LabPkiOptions::new(T0, T0 + 10);
        o.spc = String::new();
        assert!(matches!(
            LabPki::generate(&o).unwrap_err(),
            PkiError::BadSpc { .. }
        ));
        let o = LabPkiOptions::new(i64::MAX, i64::MAX);
        assert!(matches!(
            LabPki::generate(&o).unwrap_err(),
            PkiError::Time { .. }
        ));
        let p = pki();
        let mut lo = LeafOptions::new(T0, T0 + 10);
        lo.tns = vec![TnEntry::One("12x".into())];
        assert!(matches!(
            p.issue_leaf(&lo).unwrap_err(),
            PkiError::TnAuthList(_)
        ));
        assert!(p.issue_crl(&[], T0 + 10, T0).is_err());
    }
}
