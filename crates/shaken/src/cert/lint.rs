//! ATIS-1000080 certificate profile lint (the v005 rules, specs §5.2), for
//! each certificate of a chain by role (root, intermediate, end-entity).
//!
//! Each finding has a stable code (`e_…` errors, `w_…` warnings), the index
//! of the certificate in the chain (0 is the end-entity), its role and a
//! message naming what was found. [`RULES`] lists every code with the
//! document version that introduced the rule. Linting never fails: a
//! certificate that does not parse at all yields one `e_unparseable`.
//!
//! Pure: the chain is the only input, no clock (validity is the verifier's
//! business, not the profile's).

use super::crl::{name_key, NameKey};
use super::SHAKEN_POLICY_OIDS;
use super::{oid_with_name, to_hex, Certificate, TnAuthList, TnEntry, OID_TN_AUTH_LIST};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// The certificate breaks a "shall" of the profile.
    Error,
    /// Accepted, but outdated or discouraged.
    Warning,
}

/// The role of a certificate in an STI chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Role {
    /// Self-issued CA certificate (the STI-PA-approved root).
    Root,
    /// CA certificate issued by another CA (the STI-CA intermediate).
    Intermediate,
    /// The service provider's signing certificate.
    EndEntity,
}

impl Role {
    /// `root`, `intermediate` or `end-entity`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Intermediate => "intermediate",
            Role::EndEntity => "end-entity",
        }
    }
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable code, e.g. `e_ee_cn_not_shaken_spc`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// Index of the certificate in the chain (0 is the end-entity).
    pub cert: usize,
    /// Role of that certificate.
    pub role: Role,
    /// What was found.
    pub message: String,
}

/// A lint rule: code, severity, the version that introduced it, and what it
/// checks. The table of the documentation is generated from this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable code.
    pub code: &'static str,
    /// Severity of its findings.
    pub severity: Severity,
    /// ATIS-1000080 version (or CP version) that introduced the rule.
    pub since: &'static str,
    /// What it requires.
    pub description: &'static str,
}

const fn e(code: &'static str, since: &'static str, description: &'static str) -> Rule {
    Rule {
        code,
        severity: Severity::Error,
        since,
        description,
    }
}
const fn w(code: &'static str, since: &'static str, description: &'static str) -> Rule {
    Rule {
        code,
        severity: Severity::Warning,
        since,
        description,
    }
}

/// Every rule, in the order they are checked.
pub const RULES: &[Rule] = &[
    e("e_unparseable", "v003", "the certificate parses as X.509"),
    e("e_version_not_v3", "v003", "version is v3"),
    e("e_serial_not_positive", "v003", "serial number is positive"),
    e(
        "e_serial_too_short",
        "v005",
        "serial number carries at least 64 bits (8 octets)",
    ),
    e(
        "e_signature_algorithm",
        "v003",
        "signature is ecdsa-with-SHA256 (CAs: also ecdsa-with-SHA384, CP v1.4)",
    ),
    e(
        "e_key_not_p256",
        "v005",
        "key is id-ecPublicKey on P-256 (CAs: also P-384, CP v1.4)",
    ),
    e("e_subject_c_missing", "v003", "subject has C"),
    e(
        "e_subject_c_not_iso",
        "v005",
        "subject C is an ISO 3166-1 alpha-2 code",
    ),
    w("w_subject_c_not_us", "CP v1.4", "subject C is US"),
    e("e_subject_o_missing", "v004", "subject has O"),
    e("e_subject_cn_missing", "v003", "subject has CN"),
    e(
        "e_ee_cn_not_shaken_spc",
        "v004",
        "end-entity CN is \"SHAKEN <SPC>\" with the SPC of its TNAuthList",
    ),
    w(
        "w_ca_cn_no_shaken",
        "v003",
        "CA CN contains \"SHAKEN\" (or \"STI\")",
    ),
    e("e_root_cn_no_root", "v005", "root CN contains \"ROOT\""),
    e(
        "e_issuer_mismatch",
        "v003",
        "root: issuer equals subject; others: issuer equals the subject of the next certificate",
    ),
    e(
        "e_basic_constraints_missing",
        "v003",
        "basicConstraints is present",
    ),
    e(
        "e_basic_constraints_not_critical",
        "v003",
        "basicConstraints is critical",
    ),
    e(
        "e_ca_flag_wrong",
        "v003",
        "cA is TRUE for root and intermediate, FALSE for the end-entity",
    ),
    e("e_key_usage_missing", "v003", "keyUsage is present"),
    e("e_key_usage_not_critical", "v003", "keyUsage is critical"),
    e(
        "e_ee_key_usage",
        "v003",
        "end-entity keyUsage is digitalSignature only",
    ),
    e(
        "e_ca_key_usage_no_cert_sign",
        "v003",
        "CA keyUsage has keyCertSign",
    ),
    e(
        "e_ca_key_usage_not_cert_sign_only",
        "v005",
        "CA keyUsage is keyCertSign only (v003/v004 allowed digitalSignature and cRLSign)",
    ),
    e("e_ski_missing", "v003", "subjectKeyIdentifier is present"),
    e(
        "e_ski_not_sha1",
        "v005",
        "subjectKeyIdentifier is the 20-byte SHA-1 of the subjectPublicKey",
    ),
    e(
        "e_aki_missing",
        "v003",
        "authorityKeyIdentifier with a keyIdentifier is present (intermediate and end-entity)",
    ),
    e(
        "e_aki_mismatch",
        "v003",
        "authorityKeyIdentifier equals the issuer's subjectKeyIdentifier",
    ),
    e(
        "e_root_has_cp",
        "v005",
        "a root carries no certificatePolicies",
    ),
    e(
        "e_cp_missing",
        "v003",
        "intermediate and end-entity carry certificatePolicies",
    ),
    e(
        "e_cp_critical",
        "v003",
        "certificatePolicies is not critical",
    ),
    e("e_cp_count", "v003", "exactly one policy OID"),
    e(
        "e_cp_not_shaken",
        "v003",
        "the policy OID is a SHAKEN CP OID (2.16.840.1.114569.1.1.1 to .4)",
    ),
    w(
        "w_cp_oid_outdated",
        "CP v1.3",
        "the policy OID is current (1.1.3 or 1.1.4, not 1.1.1 or 1.1.2)",
    ),
    e(
        "e_root_has_cdp",
        "v005",
        "a root carries no CRL distribution points",
    ),
    e(
        "e_cdp_missing",
        "v004",
        "intermediate and end-entity carry CRL distribution points",
    ),
    e("e_cdp_count", "v004", "exactly one DistributionPoint"),
    e(
        "e_cdp_no_http_url",
        "v004",
        "the DistributionPoint has an http(s) URL",
    ),
    e(
        "e_cdp_no_crl_issuer",
        "v004",
        "the DistributionPoint has a cRLIssuer (the STI-PA CRL issuer DN)",
    ),
    e(
        "e_ee_tnauthlist_missing",
        "v003",
        "the end-entity carries TNAuthList",
    ),
    e(
        "e_ca_has_tnauthlist",
        "v003",
        "root and intermediate carry no TNAuthList",
    ),
    e(
        "e_tnauthlist_critical",
        "v003",
        "TNAuthList is not critical",
    ),
    e(
        "e_tnauthlist_malformed",
        "v003",
        "TNAuthList is well-formed DER with EXPLICIT tags (RFC 8226)",
    ),
    e(
        "e_tnauthlist_spc_count",
        "v003",
        "TNAuthList holds exactly one SPC",
    ),
    e(
        "e_tnauthlist_has_tns",
        "v005",
        "TNAuthList holds no TNs or ranges",
    ),
    e(
        "e_tnauthlist_spc_charset",
        "v005",
        "the SPC is [0-9A-Z] only",
    ),
    e(
        "e_unspecified_extension",
        "v005",
        "no extensions beyond KU, BC, CP, SKI, AKI, CDP and TNAuthList",
    ),
    e(
        "e_expired",
        "RFC 5280",
        "the certificate has not expired at the lint time (notAfter)",
    ),
    e(
        "e_not_yet_valid",
        "RFC 5280",
        "the certificate is valid at the lint time (notBefore)",
    ),
];

/// Where `now` (Unix seconds) falls in a certificate's validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Validity {
    /// notBefore <= now <= notAfter.
    Valid,
    /// now < notBefore.
    NotYetValid,
    /// now > notAfter.
    Expired,
}

impl Validity {
    /// The validity of `cert` at `now`.
    pub fn of(cert: &Certificate, now: i64) -> Validity {
        if now < cert.not_before() {
            Validity::NotYetValid
        } else if now > cert.not_after() {
            Validity::Expired
        } else {
            Validity::Valid
        }
    }
    /// `valid`, `not-yet-valid` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::NotYetValid => "not-yet-valid",
            Validity::Expired => "expired",
        }
    }
}

/// Unix seconds as RFC 3339 UTC (the seconds themselves if out of range).
fn utc(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// [`lint_chain`] plus the validity of every certificate at `now` (the
/// profile checks do not depend on time; these do, so the time is an
/// argument): an expired or not-yet-valid certificate is an error finding.
pub fn lint_chain_at(chain: &[Certificate], now: i64) -> Vec<Finding> {
    let mut out = lint_chain(chain);
    for (index, cert) in chain.iter().enumerate() {
        let (code, message) = match Validity::of(cert, now) {
            Validity::Valid => continue,
            Validity::Expired => (
                "e_expired",
                format!(
                    "expired: notAfter {} is before the lint time {}; the issuer must renew it",
                    utc(cert.not_after()),
                    utc(now)
                ),
            ),
            Validity::NotYetValid => (
                "e_not_yet_valid",
                format!(
                    "not yet valid: notBefore {} is after the lint time {}; check the clocks, or wait",
                    utc(cert.not_before()),
                    utc(now)
                ),
            ),
        };
        out.push(Finding {
            code,
            severity: Severity::Error,
            cert: index,
            role: role_of(chain, index),
            message,
        });
    }
    out
}

/// Extensions the profile specifies (v005: nothing else is allowed).
const ALLOWED_EXTENSIONS: [&str; 7] = [
    "2.5.29.15", // keyUsage
    "2.5.29.19", // basicConstraints
    "2.5.29.32", // certificatePolicies
    "2.5.29.14", // subjectKeyIdentifier
    "2.5.29.35", // authorityKeyIdentifier
    "2.5.29.31", // cRLDistributionPoints
    OID_TN_AUTH_LIST,
];

const OLD_POLICY_OIDS: [&str; 2] = ["2.16.840.1.114569.1.1.1", "2.16.840.1.114569.1.1.2"];
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// The role of the certificate at `index` of a chain, by position (an STI-CR
/// serves the end-entity first): the first certificate of a chain of two or
/// more is the end-entity; the others are CAs, a root when self-issued,
/// else an intermediate. A lone certificate's role follows its cA flag.
pub fn role_of(chain: &[Certificate], index: usize) -> Role {
    let Some(cert) = chain.get(index) else {
        return Role::EndEntity;
    };
    let end_entity = if chain.len() == 1 {
        !cert.is_ca()
    } else {
        index == 0
    };
    if end_entity {
        Role::EndEntity
    } else if cert.subject() == cert.issuer() {
        Role::Root
    } else {
        Role::Intermediate
    }
}

/// Lints every certificate of `chain` (end-entity first, as served by an
/// STI-CR; a root may follow). The issuer of certificate `i` is taken to be
/// certificate `i + 1` for the AKI and issuer-name checks.
pub fn lint_chain(chain: &[Certificate]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (index, cert) in chain.iter().enumerate() {
        out.extend(lint_certificate(
            cert,
            index,
            role_of(chain, index),
            chain.get(index + 1),
        ));
    }
    out
}

/// Lints one certificate in `role`; `index` is its position in the chain
/// (reported in the findings) and `issuer` its issuing certificate when
/// known.
pub fn lint_certificate(
    cert: &Certificate,
    index: usize,
    role: Role,
    issuer: Option<&Certificate>,
) -> Vec<Finding> {
    let mut l = Linter {
        out: Vec::new(),
        index,
        role,
    };
    let Ok((_, x)) = x509_parser::parse_x509_certificate(cert.der()) else {
        l.add(
            "e_unparseable",
            "x509-parser cannot parse the certificate".to_owned(),
        );
        return l.out;
    };
    let issuer_x = issuer.and_then(|i| x509_parser::parse_x509_certificate(i.der()).ok());
    l.lint(cert, &x, issuer_x.as_ref().map(|(_, c)| c));
    l.out
}

struct Linter {
    out: Vec<Finding>,
    index: usize,
    role: Role,
}

fn first_str<'a>(
    mut it: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Option<String> {
    it.next()
        .map(|a| a.as_str().map(str::to_owned).unwrap_or_default())
}

impl Linter {
    fn add(&mut self, code: &'static str, message: String) {
        let severity = RULES
            .iter()
            .find(|r| r.code == code)
            .map(|r| r.severity)
            .unwrap_or(Severity::Error);
        self.out.push(Finding {
            code,
            severity,
            cert: self.index,
            role: self.role,
            message,
        });
    }

    fn is_ca(&self) -> bool {
        self.role != Role::EndEntity
    }

    fn lint(
        &mut self,
        cert: &Certificate,
        x: &X509Certificate<'_>,
        issuer: Option<&X509Certificate<'_>>,
    ) {
        let role = self.role.as_str();
        // Version.
        if x.version().0 != 2 {
            self.add(
                "e_version_not_v3",
                format!("version is v{}, not v3", x.version().0 + 1),
            );
        }
        // Serial.
        let raw = x.raw_serial();
        let negative = raw.first().is_some_and(|b| b & 0x80 != 0);
        let significant: Vec<u8> = raw.iter().copied().skip_while(|b| *b == 0).collect();
        if negative || significant.is_empty() {
            self.add(
                "e_serial_not_positive",
                format!("serial {} is not a positive integer", to_hex(raw)),
            );
        } else if significant.len() < 8 {
            self.add(
                "e_serial_too_short",
                format!(
                    "serial {} has {} octets; ATIS-1000080 v005 requires at least 64 bits of CSPRNG output",
                    to_hex(&significant),
                    significant.len()
                ),
            );
        }
        // Signature algorithm and key.
        let sig = x.signature_algorithm.algorithm.to_id_string();
        let sig_ok = sig == OID_ECDSA_SHA256 || (self.is_ca() && sig == OID_ECDSA_SHA384);
        if !sig_ok {
            self.add(
                "e_signature_algorithm",
                format!(
                    "signature algorithm {}; the {role} must use ecdsa-with-SHA256{}",
                    oid_with_name(&sig),
                    if self.is_ca() {
                        " (or ecdsa-with-SHA384, CP v1.4)"
                    } else {
                        ""
                    }
                ),
            );
        }
        let spki = x.public_key();
        let key_alg = spki.algorithm.algorithm.to_id_string();
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|o| o.to_id_string())
            .unwrap_or_default();
        let key_ok = key_alg == OID_EC_PUBLIC_KEY
            && (curve == OID_P256 || (self.is_ca() && curve == OID_P384));
        if !key_ok {
            self.add(
                "e_key_not_p256",
                format!(
                    "key is {}; the {role} key must be id-ecPublicKey on P-256{}",
                    cert.key_description(),
                    if self.is_ca() {
                        " (or P-384, CP v1.4)"
                    } else {
                        ""
                    }
                ),
            );
        }
        self.lint_subject(x);
        // Issuer name.
        let subject_key = name_key(x.subject());
        let issuer_key = name_key(x.issuer());
        match (self.role, issuer) {
            (Role::Root, _) if subject_key != issuer_key => self.add(
                "e_issuer_mismatch",
                format!("root issuer '{}' differs from its subject '{}'", x.issuer(), x.subject()),
            ),
            (Role::Intermediate | Role::EndEntity, Some(i)) if name_key(i.subject()) != issuer_key => self.add(
                "e_issuer_mismatch",
                format!("issuer '{}' differs from the subject '{}' of the next certificate of the chain", x.issuer(), i.subject()),
            ),
            _ => {}
        }
        self.lint_extensions(cert, x, issuer);
    }

    fn lint_subject(&mut self, x: &X509Certificate<'_>) {
        let subject = x.subject();
        match first_str(subject.iter_country()) {
            None => self.add(
                "e_subject_c_missing",
                format!("subject '{subject}' has no C (country)"),
            ),
            Some(c) => {
                if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                    self.add(
                        "e_subject_c_not_iso",
                        format!("subject C={c:?} is not an ISO 3166-1 alpha-2 code"),
                    );
                } else if c != "US" {
                    self.add(
                        "w_subject_c_not_us",
                        format!("subject C={c}; the US SHAKEN CP v1.4 requires C=US"),
                    );
                }
            }
        }
        if first_str(subject.iter_organization()).is_none() {
            self.add(
                "e_subject_o_missing",
                format!("subject '{subject}' has no O (organization), required since v004"),
            );
        }
        let cn = first_str(subject.iter_common_name());
        let Some(cn) = cn else {
            self.add(
                "e_subject_cn_missing",
                format!("subject '{subject}' has no CN"),
            );
            return;
        };
        match self.role {
            Role::EndEntity => {}
            Role::Root => {
                if !cn.to_uppercase().contains("ROOT") {
                    self.add(
                        "e_root_cn_no_root",
                        format!("root CN {cn:?} does not contain \"ROOT\" (v005)"),
                    );
                }
                self.ca_cn(&cn);
            }
            Role::Intermediate => self.ca_cn(&cn),
        }
    }

    fn ca_cn(&mut self, cn: &str) {
        let upper = cn.to_uppercase();
        if !upper.contains("SHAKEN") && !upper.contains("STI") {
            self.add(
                "w_ca_cn_no_shaken",
                format!("CA CN {cn:?} contains neither \"SHAKEN\" nor \"STI\""),
            );
        }
    }

    fn lint_extensions(
        &mut self,
        cert: &Certificate,
        x: &X509Certificate<'_>,
        issuer: Option<&X509Certificate<'_>>,
    ) {
        let role = self.role.as_str();
        let mut bc = None;
        let mut ku = None;
        let mut ski: Option<Vec<u8>> = None;
        let mut aki: Option<Option<Vec<u8>>> = None;
        let mut cp: Option<(bool, Vec<String>)> = None;
        let mut cdp: Option<Vec<(Vec<String>, Option<NameKey>)>> = None;
        let mut tnal: Option<(bool, &[u8])> = None;
        for ext in x.extensions() {
            let oid = ext.oid.to_id_string();
            if oid == OID_TN_AUTH_LIST {
                tnal = Some((ext.critical, ext.value));
                continue;
            }
            if !ALLOWED_EXTENSIONS.contains(&oid.as_str()) {
                self.add(
                    "e_unspecified_extension",
                    format!(
                        "extension {}{} is not specified by ATIS-1000080 (v005 forbids others)",
                        oid_with_name(&oid),
                        if ext.critical { " (critical)" } else { "" }
                    ),
                );
                continue;
            }
            match ext.parsed_extension() {
                ParsedExtension::BasicConstraints(b) => bc = Some((ext.critical, b.ca)),
                ParsedExtension::KeyUsage(k) => ku = Some((ext.critical, k.flags)),
                ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    aki = Some(a.key_identifier.as_ref().map(|k| k.0.to_vec()))
                }
                ParsedExtension::CertificatePolicies(p) => {
                    cp = Some((
                        ext.critical,
                        p.iter().map(|i| i.policy_id.to_id_string()).collect(),
                    ))
                }
                ParsedExtension::CRLDistributionPoints(points) => {
                    cdp = Some(
                        points
                            .points
                            .iter()
                            .map(|p| {
                                let uris = match &p.distribution_point {
                                    Some(DistributionPointName::FullName(names)) => names
                                        .iter()
                                        .filter_map(|n| match n {
                                            GeneralName::URI(u) => Some((*u).to_owned()),
                                            _ => None,
                                        })
                                        .collect(),
                                    _ => Vec::new(),
                                };
                                let issuer = p.crl_issuer.iter().flatten().find_map(|n| match n {
                                    GeneralName::DirectoryName(d) => Some(name_key(d)),
                                    _ => None,
                                });
                                (uris, issuer)
                            })
                            .collect(),
                    )
                }
                _ => {}
            }
        }

        // basicConstraints.
        match bc {
            None => self.add(
                "e_basic_constraints_missing",
                format!("the {role} has no basicConstraints"),
            ),
            Some((critical, ca)) => {
                if !critical {
                    self.add(
                        "e_basic_constraints_not_critical",
                        "basicConstraints is not marked critical".to_owned(),
                    );
                }
                if ca != self.is_ca() {
                    self.add(
                        "e_ca_flag_wrong",
                        format!(
                            "basicConstraints cA is {}; the {role} must have cA {}",
                            ca,
                            self.is_ca()
                        ),
                    );
                }
            }
        }
        // keyUsage: bit 0 digitalSignature, bit 5 keyCertSign.
        const DIGITAL_SIGNATURE: u16 = 1;
        const KEY_CERT_SIGN: u16 = 1 << 5;
        match ku {
            None => self.add("e_key_usage_missing", format!("the {role} has no keyUsage")),
            Some((critical, flags)) => {
                if !critical {
                    self.add(
                        "e_key_usage_not_critical",
                        "keyUsage is not marked critical".to_owned(),
                    );
                }
                if self.is_ca() {
                    if flags & KEY_CERT_SIGN == 0 {
                        self.add(
                            "e_ca_key_usage_no_cert_sign",
                            format!("the {role} keyUsage lacks keyCertSign (flags {flags:#06x})"),
                        );
                    } else if flags != KEY_CERT_SIGN {
                        self.add("e_ca_key_usage_not_cert_sign_only", format!("the {role} keyUsage has bits beyond keyCertSign (flags {flags:#06x}); v005 allows keyCertSign only"));
                    }
                } else if flags != DIGITAL_SIGNATURE {
                    self.add("e_ee_key_usage", format!("end-entity keyUsage flags are {flags:#06x}; only digitalSignature is allowed"));
                }
            }
        }
        // SKI.
        match &ski {
            None => self.add(
                "e_ski_missing",
                format!("the {role} has no subjectKeyIdentifier"),
            ),
            Some(k) => {
                let sha1 = crate::crypto::sha1(x.public_key().subject_public_key.data.as_ref());
                if k.as_slice() != &sha1[..] {
                    self.add("e_ski_not_sha1", format!("subjectKeyIdentifier {} ({} bytes) is not the SHA-1 of the public key ({})", to_hex(k), k.len(), to_hex(&sha1)));
                }
            }
        }
        // AKI.
        if self.role != Role::Root {
            match &aki {
                None | Some(None) => self.add(
                    "e_aki_missing",
                    format!("the {role} has no authorityKeyIdentifier keyIdentifier"),
                ),
                Some(Some(a)) => {
                    let issuer_ski = issuer.and_then(|i| {
                        i.extensions()
                            .iter()
                            .find_map(|e| match e.parsed_extension() {
                                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                                _ => None,
                            })
                    });
                    if let Some(is) = issuer_ski {
                        if &is != a {
                            self.add("e_aki_mismatch", format!("authorityKeyIdentifier {} differs from the issuer's subjectKeyIdentifier {}", to_hex(a), to_hex(&is)));
                        }
                    }
                }
            }
        }
        // certificatePolicies.
        match (&cp, self.role) {
            (Some(_), Role::Root) => self.add(
                "e_root_has_cp",
                "the root carries certificatePolicies (v005: roots must not)".to_owned(),
            ),
            (None, Role::Root) => {}
            (None, _) => self.add(
                "e_cp_missing",
                format!("the {role} has no certificatePolicies"),
            ),
            (Some((critical, oids)), _) => {
                if *critical {
                    self.add(
                        "e_cp_critical",
                        "certificatePolicies is marked critical".to_owned(),
                    );
                }
                if oids.len() != 1 {
                    self.add(
                        "e_cp_count",
                        format!(
                            "{} policy OIDs ({}); exactly one is required",
                            oids.len(),
                            oids.join(", ")
                        ),
                    );
                }
                for oid in oids {
                    if !SHAKEN_POLICY_OIDS.contains(&oid.as_str()) {
                        self.add(
                            "e_cp_not_shaken",
                            format!("policy {oid} is not a SHAKEN CP OID"),
                        );
                    } else if OLD_POLICY_OIDS.contains(&oid.as_str()) {
                        self.add("w_cp_oid_outdated", format!("policy {oid} is a superseded SHAKEN CP OID (current: 2.16.840.1.114569.1.1.3 / .4)"));
                    }
                }
            }
        }
        // CRL distribution points.
        match (&cdp, self.role) {
            (Some(_), Role::Root) => self.add(
                "e_root_has_cdp",
                "the root carries CRL distribution points (v005: roots must not)".to_owned(),
            ),
            (None, Role::Root) => {}
            (None, _) => self.add(
                "e_cdp_missing",
                format!("the {role} has no CRL distribution points"),
            ),
            (Some(points), _) => {
                if points.len() != 1 {
                    self.add(
                        "e_cdp_count",
                        format!(
                            "{} DistributionPoints; exactly one is required",
                            points.len()
                        ),
                    );
                }
                if let Some((uris, crl_issuer)) = points.first() {
                    if !uris
                        .iter()
                        .any(|u| u.starts_with("http://") || u.starts_with("https://"))
                    {
                        self.add(
                            "e_cdp_no_http_url",
                            "the DistributionPoint has no http(s) URL".to_owned(),
                        );
                    }
                    if crl_issuer.is_none() {
                        self.add("e_cdp_no_crl_issuer", format!("the DistributionPoint ({}) has no cRLIssuer naming the STI-PA CRL issuer", uris.join(", ")));
                    }
                }
            }
        }
        // TNAuthList.
        match (tnal, self.role) {
            (None, Role::EndEntity) => self.add(
                "e_ee_tnauthlist_missing",
                "the end-entity has no TNAuthList (1.3.6.1.5.5.7.1.26)".to_owned(),
            ),
            (None, _) => {}
            (Some(_), _) if self.is_ca() => self.add(
                "e_ca_has_tnauthlist",
                format!("the {role} carries a TNAuthList; only end-entities may"),
            ),
            (Some((critical, value)), _) => {
                if critical {
                    self.add(
                        "e_tnauthlist_critical",
                        "TNAuthList is marked critical".to_owned(),
                    );
                }
                match TnAuthList::from_der(value) {
                    Err(err) => self.add("e_tnauthlist_malformed", format!("TNAuthList: {err}")),
                    Ok(list) => self.lint_tn_auth_list(cert, x, &list),
                }
            }
        }
    }

    fn lint_tn_auth_list(
        &mut self,
        _cert: &Certificate,
        x: &X509Certificate<'_>,
        list: &TnAuthList,
    ) {
        let spcs: Vec<&str> = list
            .0
            .iter()
            .filter_map(|e| match e {
                TnEntry::Spc(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        if spcs.len() != 1 {
            self.add(
                "e_tnauthlist_spc_count",
                format!(
                    "TNAuthList holds {} SPCs; exactly one is required",
                    spcs.len()
                ),
            );
        }
        let tns = list.0.len() - spcs.len();
        if tns > 0 {
            self.add(
                "e_tnauthlist_has_tns",
                format!("TNAuthList holds {tns} TN or range entries; v005 allows only the SPC"),
            );
        }
        for spc in &spcs {
            if !spc
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            {
                self.add(
                    "e_tnauthlist_spc_charset",
                    format!("SPC {spc:?} has characters outside [0-9A-Z]"),
                );
            }
        }
        if let (Some(spc), Some(cn)) = (spcs.first(), first_str(x.subject().iter_common_name())) {
            let want = format!("SHAKEN {spc}");
            if cn != want {
                self.add(
                    "e_ee_cn_not_shaken_spc",
                    format!("CN {cn:?} is not {want:?}"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::cert::parse_chain;
    use crate::pki::{LabPki, LabPkiOptions, LeafOptions};
    use crate::Limits;
    use rcgen::{CertificateParams, CustomExtension, KeyPair};
    use std::collections::HashSet;

    const T0: i64 = 1_767_225_600;

    fn lab() -> LabPki {
        LabPki::generate(&LabPkiOptions::new(T0, T0 + 86400 * 365)).unwrap()
    }

    fn crl_issuer_name() -> Vec<u8> {
        // DER of Name "CN=STI-PA CRL, O=STI-PA, C=US".
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "STI-PA CRL");
        p.distinguished_name
            .push(rcgen::DnType::OrganizationName, "STI-PA");
        p.distinguished_name.push(rcgen::DnType::CountryName, "US");
        let c = p.self_signed(&key).unwrap();
        let (_, x) = x509_parser::parse_x509_certificate(c.der()).unwrap();
        x.subject().as_raw().to_vec()
    }

    fn cdp_ext(uri: &str, with_issuer: bool) -> CustomExtension {
        let name = crl_issuer_name();
        CustomExtension::from_oid_content(
            &[2, 5, 29, 31],
            crate::cert::cdp_extension_der(uri, with_issuer.then_some(name.as_slice())),
        )
    }

    /// A profile-clean leaf's parameters (the lab leaf; custom extensions
    /// CP, TNAuthList, then the CDP with a cRLIssuer).
    fn clean(pki: &LabPki) -> (CertificateParams, KeyPair) {
        let (mut p, k) = pki.leaf_params(&LeafOptions::new(T0, T0 + 86400)).unwrap();
        p.custom_extensions.pop(); // the lab CDP
        p.custom_extensions
            .push(cdp_ext("https://sti-pa.example/crl", true));
        (p, k)
    }

    /// Lints the leaf made from tweaked clean parameters; findings of cert 0.
    fn lint_leaf(tweak: impl FnOnce(&mut CertificateParams)) -> Vec<Finding> {
        let pki = lab();
        let (mut p, k) = clean(&pki);
        tweak(&mut p);
        let leaf = pki.issue_custom(p, &k).unwrap();
        let chain = parse_chain(
            format!("{}{}", leaf.cert_pem, pki.ca.cert_pem).as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        lint_chain(&chain)
            .into_iter()
            .filter(|f| f.cert == 0)
            .collect()
    }

    fn codes(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|f| f.code).collect()
    }

    fn has(tweak: impl FnOnce(&mut CertificateParams), code: &str) {
        let f = lint_leaf(tweak);
        assert!(codes(&f).contains(&code), "{code} not in {f:#?}");
        let rule = RULES.iter().find(|r| r.code == code).unwrap();
        let finding = f.iter().find(|x| x.code == code).unwrap();
        assert_eq!(finding.severity, rule.severity);
        assert_eq!(finding.role, Role::EndEntity);
    }

    /// A self-signed CA made with rcgen params (a root).
    fn root_findings(tweak: impl FnOnce(&mut CertificateParams)) -> Vec<Finding> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "SHAKEN Test ROOT");
        p.distinguished_name
            .push(rcgen::DnType::OrganizationName, "Test");
        p.distinguished_name.push(rcgen::DnType::CountryName, "US");
        p.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x41; 16]));
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        p.key_identifier_method =
            rcgen::KeyIdMethod::PreSpecified(crate::crypto::sha1(key.public_key_raw()).to_vec());
        tweak(&mut p);
        let c = p.self_signed(&key).unwrap();
        let chain = parse_chain(c.der(), &Limits::default()).unwrap();
        lint_certificate(&chain[0], 0, Role::Root, None)
    }

    #[test]
    fn clean_leaf_and_root_have_no_findings() {
        assert_eq!(lint_leaf(|_| {}), vec![]);
        assert_eq!(root_findings(|_| {}), vec![]);
    }

    #[test]
    fn validity_at_the_lint_time() {
        let pki = lab();
        let chain = parse_chain(pki.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        let (nb, na) = (chain[0].not_before(), chain[0].not_after());
        assert_eq!(Validity::of(&chain[0], nb), Validity::Valid);
        assert_eq!(Validity::of(&chain[0], na + 1), Validity::Expired);
        assert_eq!(Validity::of(&chain[0], nb - 1), Validity::NotYetValid);
        let base = lint_chain(&chain);
        assert_eq!(lint_chain_at(&chain, nb), base);
        let late = lint_chain_at(&chain, na + 1);
        let expired: Vec<_> = late.iter().filter(|f| f.code == "e_expired").collect();
        assert_eq!(expired.len(), chain.len());
        assert!(expired.iter().all(|f| f.severity == Severity::Error));
        let early = lint_chain_at(&chain, nb - 1);
        assert!(early
            .iter()
            .any(|f| f.code == "e_not_yet_valid" && f.cert == 0));
    }

    #[test]
    fn rule_codes_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for r in RULES {
            assert!(seen.insert(r.code), "duplicate {}", r.code);
            let prefix = match r.severity {
                Severity::Error => "e_",
                Severity::Warning => "w_",
            };
            assert!(r.code.starts_with(prefix), "{}", r.code);
            assert!(r
                .code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()));
        }
    }

    #[test]
    fn serial_rules() {
        has(
            |p| p.serial_number = Some(rcgen::SerialNumber::from(0x1234u64)),
            "e_serial_too_short",
        );
        // rcgen always writes positive serials: patch one to negative (the
        // lint does not check signatures).
        let pki = lab();
        let mut der = pki.leaf.cert_der.clone();
        let serial = x509_parser::parse_x509_certificate(&der)
            .unwrap()
            .1
            .raw_serial()
            .to_vec();
        let at = der.windows(serial.len()).position(|w| w == serial).unwrap();
        der[at] |= 0x80;
        let chain = parse_chain(&der, &Limits::default()).unwrap();
        let f = lint_certificate(&chain[0], 0, Role::EndEntity, None);
        assert!(codes(&f).contains(&"e_serial_not_positive"), "{f:?}");
    }

    #[test]
    fn key_rule() {
        let pki = lab();
        let (mut p, _) = clean(&pki);
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        p.key_identifier_method =
            rcgen::KeyIdMethod::PreSpecified(crate::crypto::sha1(key.public_key_raw()).to_vec());
        let leaf = pki.issue_custom(p, &key).unwrap();
        let chain = parse_chain(leaf.cert_pem.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(codes(&lint_chain(&chain)), ["e_key_not_p256"]);
        // A P-384 root is allowed (CP v1.4), and it signs with SHA-384.
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "SHAKEN P384 ROOT");
        p.distinguished_name
            .push(rcgen::DnType::OrganizationName, "T");
        p.distinguished_name.push(rcgen::DnType::CountryName, "US");
        p.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x41; 16]));
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        p.key_identifier_method =
            rcgen::KeyIdMethod::PreSpecified(crate::crypto::sha1(key.public_key_raw()).to_vec());
        let c = p.self_signed(&key).unwrap();
        assert_eq!(
            lint_chain(&parse_chain(c.der(), &Limits::default()).unwrap()),
            vec![]
        );
    }

    #[test]
    fn signature_algorithm_rule() {
        // A leaf signed by a P-384 issuer uses ecdsa-with-SHA384.
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let mut ca = CertificateParams::default();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "SHAKEN CA");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let ca_cert = ca.self_signed(&key).unwrap();
        let pki = lab();
        let (p, k) = clean(&pki);
        let leaf = p.signed_by(&k, &ca_cert, &key).unwrap();
        let chain = parse_chain(leaf.der(), &Limits::default()).unwrap();
        assert!(codes(&lint_chain(&chain)).contains(&"e_signature_algorithm"));
    }

    fn dn(parts: &[(rcgen::DnType, &str)]) -> rcgen::DistinguishedName {
        let mut d = rcgen::DistinguishedName::new();
        for (t, v) in parts {
            d.push(t.clone(), *v);
        }
        d
    }

    #[test]
    fn subject_rules() {
        use rcgen::DnType::*;
        has(
            |p| p.distinguished_name = dn(&[(CommonName, "SHAKEN 1234"), (OrganizationName, "X")]),
            "e_subject_c_missing",
        );
        has(
            |p| {
                p.distinguished_name = dn(&[
                    (CommonName, "SHAKEN 1234"),
                    (OrganizationName, "X"),
                    (CountryName, "usa"),
                ])
            },
            "e_subject_c_not_iso",
        );
        has(
            |p| {
                p.distinguished_name = dn(&[
                    (CommonName, "SHAKEN 1234"),
                    (OrganizationName, "X"),
                    (CountryName, "CA"),
                ])
            },
            "w_subject_c_not_us",
        );
        has(
            |p| p.distinguished_name = dn(&[(CommonName, "SHAKEN 1234"), (CountryName, "US")]),
            "e_subject_o_missing",
        );
        has(
            |p| p.distinguished_name = dn(&[(OrganizationName, "X"), (CountryName, "US")]),
            "e_subject_cn_missing",
        );
        has(
            |p| {
                p.distinguished_name = dn(&[
                    (CommonName, "1234"),
                    (OrganizationName, "X"),
                    (CountryName, "US"),
                ])
            },
            "e_ee_cn_not_shaken_spc",
        );
    }

    #[test]
    fn root_cn_rules() {
        use rcgen::DnType::*;
        let f = root_findings(|p| {
            p.distinguished_name = dn(&[
                (CommonName, "SHAKEN Test CA"),
                (OrganizationName, "T"),
                (CountryName, "US"),
            ])
        });
        assert_eq!(codes(&f), ["e_root_cn_no_root"]);
        let f = root_findings(|p| {
            p.distinguished_name = dn(&[
                (CommonName, "Acme ROOT"),
                (OrganizationName, "T"),
                (CountryName, "US"),
            ])
        });
        assert_eq!(codes(&f), ["w_ca_cn_no_shaken"]);
    }

    #[test]
    fn root_extension_rules() {
        let f = root_findings(|p| p.key_usages.push(rcgen::KeyUsagePurpose::CrlSign));
        assert_eq!(codes(&f), ["e_ca_key_usage_not_cert_sign_only"]);
        let f = root_findings(|p| p.key_usages = vec![rcgen::KeyUsagePurpose::CrlSign]);
        assert_eq!(codes(&f), ["e_ca_key_usage_no_cert_sign"]);
        let f = root_findings(|p| {
            p.custom_extensions
                .push(crate::pki::policies_extension("2.16.840.1.114569.1.1.4").unwrap())
        });
        assert_eq!(codes(&f), ["e_root_has_cp"]);
        let f = root_findings(|p| p.custom_extensions.push(cdp_ext("https://x/crl", true)));
        assert_eq!(codes(&f), ["e_root_has_cdp"]);
        let f = root_findings(|p| {
            p.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(vec![1, 2, 3])
        });
        assert_eq!(codes(&f), ["e_ski_not_sha1"]);
        let f = root_findings(|p| {
            p.custom_extensions.push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 5, 5, 7, 1, 26],
                vec![0x30, 0x08, 0xa0, 0x06, 0x16, 0x04, b'1', b'2', b'3', b'4'],
            ))
        });
        assert_eq!(codes(&f), ["e_ca_has_tnauthlist"]);
    }

    #[test]
    fn basic_constraints_rules() {
        has(
            |p| p.is_ca = rcgen::IsCa::NoCa,
            "e_basic_constraints_missing",
        );
        // rcgen always marks basicConstraints critical; a non-critical one
        // is made by hand.
        has(
            |p| {
                p.is_ca = rcgen::IsCa::NoCa;
                p.custom_extensions.push(CustomExtension::from_oid_content(
                    &[2, 5, 29, 19],
                    vec![0x30, 0x00],
                ));
            },
            "e_basic_constraints_not_critical",
        );
        has(
            |p| p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained),
            "e_ca_flag_wrong",
        );
    }

    #[test]
    fn key_usage_rules() {
        has(|p| p.key_usages.clear(), "e_key_usage_missing");
        has(
            |p| p.key_usages.push(rcgen::KeyUsagePurpose::KeyEncipherment),
            "e_ee_key_usage",
        );
        has(
            |p| {
                p.key_usages.clear();
                // keyUsage digitalSignature, not critical.
                p.custom_extensions.push(CustomExtension::from_oid_content(
                    &[2, 5, 29, 15],
                    vec![0x03, 0x02, 0x07, 0x80],
                ));
            },
            "e_key_usage_not_critical",
        );
    }

    #[test]
    fn key_identifier_rules() {
        has(
            |p| p.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(vec![9; 20]),
            "e_ski_not_sha1",
        );
        has(
            |p| p.use_authority_key_identifier_extension = false,
            "e_aki_missing",
        );
        // AKI of another issuer: sign the leaf with another lab's CA but
        // lint it against this lab's CA.
        let pki = lab();
        let other = lab();
        let (p, k) = clean(&other);
        let leaf = other.issue_custom(p, &k).unwrap();
        let chain = parse_chain(
            format!("{}{}", leaf.cert_pem, pki.ca.cert_pem).as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        let f = lint_certificate(&chain[0], 0, Role::EndEntity, chain.get(1));
        assert_eq!(codes(&f), ["e_aki_mismatch"]);
    }

    #[test]
    fn policy_rules() {
        use crate::pki::policies_extension;
        has(
            |p| {
                p.custom_extensions.remove(0);
            },
            "e_cp_missing",
        );
        has(
            |p| p.custom_extensions[0] = policies_extension("2.16.840.1.114569.1.1.1").unwrap(),
            "w_cp_oid_outdated",
        );
        has(
            |p| p.custom_extensions[0] = policies_extension("2.5.29.32.0").unwrap(),
            "e_cp_not_shaken",
        );
        has(
            |p| {
                let mut e = policies_extension("2.16.840.1.114569.1.1.4").unwrap();
                e.set_criticality(true);
                p.custom_extensions[0] = e;
            },
            "e_cp_critical",
        );
        // Two policies: 30 { 30 {oid 1.1.3} 30 {oid 1.1.4} }.
        has(
            |p| {
                let one = |last: u8| {
                    vec![
                        0x30, 0x0c, 0x06, 0x0a, 0x60, 0x86, 0x48, 0x01, 0x86, 0xff, 0x09, 0x01,
                        0x01, last,
                    ]
                };
                let mut body = one(3);
                body.extend(one(4));
                let mut der = vec![0x30, body.len() as u8];
                der.extend(body);
                p.custom_extensions[0] = CustomExtension::from_oid_content(&[2, 5, 29, 32], der);
            },
            "e_cp_count",
        );
    }

    #[test]
    fn cdp_rules() {
        has(
            |p| {
                p.custom_extensions.pop();
            },
            "e_cdp_missing",
        );
        has(
            |p| {
                p.custom_extensions.pop();
                p.custom_extensions.push(cdp_ext("https://x/crl", false));
            },
            "e_cdp_no_crl_issuer",
        );
        has(
            |p| {
                p.custom_extensions.pop();
                p.custom_extensions.push(cdp_ext("ldap://x/crl", true));
            },
            "e_cdp_no_http_url",
        );
        has(
            |p| {
                p.custom_extensions.pop();
                let one = crate::cert::cdp_extension_der("https://a/crl", None);
                // Two DistributionPoints: unwrap the outer SEQUENCE twice.
                let inner = one[2..].to_vec();
                let mut body = inner.clone();
                body.extend(inner);
                let mut der = vec![0x30, body.len() as u8];
                der.extend(body);
                p.custom_extensions
                    .push(CustomExtension::from_oid_content(&[2, 5, 29, 31], der));
            },
            "e_cdp_count",
        );
    }

    fn with_tnal(p: &mut CertificateParams, der: Vec<u8>, critical: bool) {
        let mut e = CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 26], der);
        e.set_criticality(critical);
        p.custom_extensions[1] = e;
    }

    #[test]
    fn tn_auth_list_rules() {
        has(
            |p| {
                p.custom_extensions.remove(1);
            },
            "e_ee_tnauthlist_missing",
        );
        has(
            |p| {
                with_tnal(
                    p,
                    TnAuthList(vec![TnEntry::Spc("1234".into())])
                        .to_der()
                        .unwrap(),
                    true,
                )
            },
            "e_tnauthlist_critical",
        );
        has(
            |p| {
                with_tnal(
                    p,
                    vec![0x30, 0x06, 0x80, 0x04, b'1', b'2', b'3', b'4'],
                    false,
                )
            },
            "e_tnauthlist_malformed",
        );
        has(
            |p| {
                with_tnal(
                    p,
                    TnAuthList(vec![
                        TnEntry::Spc("1234".into()),
                        TnEntry::Spc("5678".into()),
                    ])
                    .to_der()
                    .unwrap(),
                    false,
                )
            },
            "e_tnauthlist_spc_count",
        );
        has(
            |p| {
                with_tnal(
                    p,
                    TnAuthList(vec![
                        TnEntry::Spc("1234".into()),
                        TnEntry::One("12155551212".into()),
                    ])
                    .to_der()
                    .unwrap(),
                    false,
                )
            },
            "e_tnauthlist_has_tns",
        );
        let f = lint_leaf(|p| {
            with_tnal(
                p,
                TnAuthList(vec![TnEntry::Spc("12ab".into())])
                    .to_der()
                    .unwrap(),
                false,
            );
            p.distinguished_name = dn(&[
                (rcgen::DnType::CommonName, "SHAKEN 12ab"),
                (rcgen::DnType::OrganizationName, "X"),
                (rcgen::DnType::CountryName, "US"),
            ]);
        });
        assert_eq!(codes(&f), ["e_tnauthlist_spc_charset"]);
    }

    #[test]
    fn unspecified_extension_rule() {
        has(
            |p| {
                p.custom_extensions.push(CustomExtension::from_oid_content(
                    &[1, 2, 3, 4],
                    vec![0x05, 0x00],
                ))
            },
            "e_unspecified_extension",
        );
    }

    #[test]
    fn issuer_mismatch_rule() {
        let pki = lab();
        // Leaf followed by the root instead of its CA.
        let chain = parse_chain(
            format!("{}{}", pki.leaf.cert_pem, pki.root.cert_pem).as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        let f = lint_certificate(&chain[0], 0, Role::EndEntity, chain.get(1));
        assert!(codes(&f).contains(&"e_issuer_mismatch"), "{f:?}");
    }

    #[test]
    fn lab_chain_roles() {
        let pki = lab();
        let chain = parse_chain(
            format!(
                "{}{}{}",
                pki.leaf.cert_pem, pki.ca.cert_pem, pki.root.cert_pem
            )
            .as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(role_of(&chain, 0), Role::EndEntity);
        assert_eq!(role_of(&chain, 1), Role::Intermediate);
        assert_eq!(role_of(&chain, 2), Role::Root);
        assert_eq!(role_of(&chain[1..2], 0), Role::Intermediate);
        assert_eq!(role_of(&chain[..1], 0), Role::EndEntity);
        // The lab PKI follows v005: CAs with keyCertSign only, CDPs naming
        // the lab CRL signer as cRLIssuer.
        assert_eq!(lint_chain(&chain), vec![]);
    }
}
