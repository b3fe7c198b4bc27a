//! ES256 (ECDSA P-256 with SHA-256, RFC 7518 §3.4) behind a small interface.
//!
//! JWS signatures are raw `r || s`, 64 bytes ([`RawSignature`]); X.509 uses DER.
//! The two are never mixed: this module only speaks raw.
//!
//! Backends: `aws-lc-rs` (the default feature: the faster of the two vetted
//! native backends on the machines we measured, BENCHMARKS.md "Issue 21"),
//! `ring` (the `ring` feature without the default), or, with the `rustcrypto`
//! feature, pure-Rust `p256` for PASSporTs (about 4x slower). The backend also
//! validates certificate paths (webpki) and, with `fetch`, is the TLS provider
//! (`tls_provider`), so one crypto library is linked. Keys are loaded with
//! `p256` (PKCS#8 or SEC1 PEM). Signing goes through the [`Signer`] trait so an
//! HSM or KMS key can plug in. [`PublicKey`] is a signer's key parsed once, for
//! the many calls a cached certificate chain verifies.

use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::DecodePrivateKey;

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!("shaken needs a crypto backend: the `aws-lc-rs` feature (the default) or `ring`");

// The native backend: ES256 (unless `rustcrypto`), CRL signatures, and the
// matching webpki algorithms for certificate paths.
#[cfg(feature = "aws-lc-rs")]
pub(crate) use aws_lc_rs as backend;
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
pub(crate) use ring as backend;
#[cfg(feature = "aws-lc-rs")]
pub(crate) use webpki::aws_lc_rs as webpki_algs;
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
pub(crate) use webpki::ring as webpki_algs;

/// SHA-1 of `data`, for the identifiers that are defined as one (the
/// subjectKeyIdentifier of RFC 5280 §4.2.1.2 method 1, OpenSSL's subject
/// hash): the backend's digest, so no separate SHA-1 crate is linked. Never
/// used for a signature.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let d = backend::digest::digest(&backend::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    let mut out = [0u8; 20];
    out.copy_from_slice(d.as_ref());
    out
}

/// The ES256 backend this build signs and verifies PASSporTs with:
/// `"aws-lc-rs"`, `"ring"` or `"p256"` (the `rustcrypto` feature).
pub const BACKEND: &str = if cfg!(feature = "rustcrypto") {
    "p256"
} else if cfg!(feature = "aws-lc-rs") {
    "aws-lc-rs"
} else {
    "ring"
};

/// The rustls crypto provider of the backend: the service's TLS, the
/// fetcher's HTTPS and Redis TLS all use it.
#[cfg(feature = "fetch")]
pub fn tls_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let provider = rustls::crypto::ring::default_provider();
    std::sync::Arc::new(provider)
}

/// Make [`tls_provider`] the process's default rustls provider unless one is
/// installed already (a host application's choice is kept). reqwest and the
/// Redis client read the process default; the fetcher and the fleet call
/// this before they build a client.
#[cfg(feature = "fetch")]
pub fn install_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another thread installing one is fine.
        let _ = rustls::crypto::CryptoProvider::install_default(std::sync::Arc::unwrap_or_clone(
            tls_provider(),
        ));
    }
}

/// Length of an ES256 JWS signature: `r || s`, 32 bytes each.
pub const ES256_SIG_LEN: usize = 64;

/// A raw ES256 signature, `r || s` big-endian (RFC 7518 §3.4). Not DER.
pub type RawSignature = [u8; ES256_SIG_LEN];

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The public key is not a valid uncompressed P-256 point.
    #[error("the certificate's public key is not a valid P-256 point")]
    BadPublicKey,
    /// The signature does not match the signed bytes and the key.
    #[error("ES256 signature does not match the certificate's public key")]
    Mismatch,
}

/// A signature that does not verify fails with 438, `TN-Validation-Failed`
/// (E18, `signature-invalid`).
impl crate::diagnostic::Diagnostic for SignatureError {
    fn id(&self) -> &'static str {
        match self {
            SignatureError::BadPublicKey => "signature-bad-public-key",
            SignatureError::Mismatch => "signature-mismatch",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        Some(438)
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        Some(crate::report::Verstat::Failed)
    }
}

/// Why a private key could not be loaded or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a PEM private key we understand.
    #[error("not a P-256 private key in PKCS#8 (\"BEGIN PRIVATE KEY\") or SEC1 (\"BEGIN EC PRIVATE KEY\") PEM: {0}")]
    Unreadable(String),
    /// A private key, but not the ECDSA P-256 key ES256 needs (RSA,
    /// Ed25519, P-384, P-521...). `found` says what it is, with the
    /// algorithm's name and OID.
    #[error("found {found}; SHAKEN signs with ES256, which needs an ECDSA P-256 (prime256v1) private key: make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem` and have a certificate issued for it")]
    WrongAlgorithm {
        /// What the key is, e.g. "an RSA key (rsaEncryption, 1.2.840.113549.1.1.1)".
        found: String,
    },
    /// An encrypted PKCS#8 key (`BEGIN ENCRYPTED PRIVATE KEY`): signing
    /// needs the plain key.
    #[error("the private key is encrypted (\"BEGIN ENCRYPTED PRIVATE KEY\"); decrypt it first, e.g. `openssl pkey -in key.pem -out plain.pem` (and keep plain.pem readable by its owner only)")]
    Encrypted,
    /// Not a private key at all: a certificate, a public key, a CSR.
    #[error("found {found}, not a private key: give the P-256 private key (\"BEGIN PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\") that belongs to the certificate")]
    NotPrivate {
        /// What the file holds, e.g. "a certificate (\"BEGIN CERTIFICATE\")".
        found: String,
    },
    /// The signing backend refused the key.
    #[error("the signing backend rejected the key: {0}")]
    Backend(String),
    /// Signing failed (an HSM or KMS error, say).
    #[error("signing failed: {0}")]
    SignFailed(String),
}

/// Signing keys: no SIP code, no verstat.
impl crate::diagnostic::Diagnostic for KeyError {
    fn id(&self) -> &'static str {
        match self {
            KeyError::Unreadable(_) => "key-unreadable",
            KeyError::WrongAlgorithm { .. } => "key-wrong-algorithm",
            KeyError::Encrypted => "key-encrypted",
            KeyError::NotPrivate { .. } => "key-not-private",
            KeyError::Backend(_) => "key-backend",
            KeyError::SignFailed(_) => "key-sign-failed",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

/// Something that makes ES256 signatures: an in-memory key, an HSM, a KMS.
pub trait Signer: Send + Sync {
    /// Sign `message` (the JWS signing input) with ES256, returning raw `r || s`.
    fn sign_es256(&self, message: &[u8]) -> Result<RawSignature, KeyError>;
    /// The uncompressed SEC1 public point, where known (used to check that a
    /// key matches its certificate).
    fn public_key(&self) -> Option<Vec<u8>>;
}

/// id-ecPublicKey (RFC 5480): the algorithm of every EC key.
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
/// The same, as an OID value.
const EC_ALG: p256::pkcs8::ObjectIdentifier =
    p256::pkcs8::ObjectIdentifier::new_unwrap(OID_EC_PUBLIC_KEY);
/// prime256v1 / secp256r1 / P-256 (RFC 5480).
const OID_P256: &str = "1.2.840.10045.3.1.7";

/// The PEM blocks of `text`, in order: each `-----BEGIN L-----` .. `-----END
/// L-----` span decoded by `pem-rfc7468` (what comes between blocks, such as
/// openssl's `Bag Attributes` lines, is skipped). A block that does not
/// decode is returned as its error.
fn pem_blocks(text: &str) -> Vec<Result<(String, Vec<u8>), String>> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        rest = &rest[start..];
        let Some(end) = rest.find("-----END ") else {
            blocks.push(Err("a PEM block without its END line".to_owned()));
            break;
        };
        // The END line runs to its closing dashes.
        let after = end + "-----END ".len();
        let close = rest[after..]
            .find("-----")
            .map_or(rest.len(), |i| after + i + "-----".len());
        let block = &rest[..close];
        blocks.push(
            p256::pkcs8::der::pem::decode_vec(block.as_bytes())
                .map(|(label, der)| (label.to_owned(), der))
                .map_err(|e| e.to_string()),
        );
        rest = &rest[close..];
    }
    blocks
}

/// An algorithm or curve OID with its registered name (x509-parser's
/// `oid-registry`), e.g. `rsaEncryption, 1.2.840.113549.1.1.1`.
fn oid_with_name(oid: &p256::pkcs8::ObjectIdentifier) -> String {
    let dotted = oid.to_string();
    match crate::cert::oid_name(&dotted) {
        Some(name) => format!("{name}, {dotted}"),
        None => dotted,
    }
}

/// What a key of algorithm `alg` (and EC `curve`) is, for people.
fn key_kind(
    alg: &p256::pkcs8::ObjectIdentifier,
    curve: Option<&p256::pkcs8::ObjectIdentifier>,
) -> String {
    let common = match alg.to_string().as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => Some("an RSA key"),
        "1.3.101.112" => Some("an Ed25519 key"),
        "1.3.101.113" => Some("an Ed448 key"),
        "1.3.101.110" | "1.3.101.111" => Some("an X25519/X448 key (key agreement only)"),
        "1.2.840.10040.4.1" => Some("a DSA key"),
        _ => None,
    };
    match (common, curve) {
        (_, Some(c)) => {
            let name = match c.to_string().as_str() {
                OID_P256 => "P-256",
                "1.3.132.0.34" => "P-384",
                "1.3.132.0.35" => "P-521",
                "1.3.132.0.10" => "secp256k1",
                _ => "another curve",
            };
            format!("an ECDSA key on {name} ({})", oid_with_name(c))
        }
        (Some(k), None) => format!("{k} ({})", oid_with_name(alg)),
        (None, None) => format!("a key of algorithm {}", oid_with_name(alg)),
    }
}

/// A PKCS#8 `PrivateKeyInfo`: P-256 or an error naming the key it is.
fn pkcs8_secret(der: &[u8]) -> Result<p256::SecretKey, KeyError> {
    let info = p256::pkcs8::PrivateKeyInfo::try_from(der)
        .map_err(|e| KeyError::Unreadable(format!("PKCS#8: {e}")))?;
    let alg = info.algorithm.oid;
    if alg.to_string() == OID_EC_PUBLIC_KEY {
        let curve = info.algorithm.parameters_oid().map_err(|e| {
            KeyError::Unreadable(format!("PKCS#8 EC key without a named curve: {e}"))
        })?;
        if curve.to_string() != OID_P256 {
            return Err(KeyError::WrongAlgorithm {
                found: format!("{} (PKCS#8)", key_kind(&alg, Some(&curve))),
            });
        }
        return p256::SecretKey::from_pkcs8_der(der)
            .map_err(|e| KeyError::Unreadable(format!("PKCS#8 P-256 key: {e}")));
    }
    Err(KeyError::WrongAlgorithm {
        found: format!("{} (PKCS#8)", key_kind(&alg, None)),
    })
}

/// A SEC1 `ECPrivateKey`: P-256 or an error naming its curve.
fn sec1_secret(der: &[u8]) -> Result<p256::SecretKey, KeyError> {
    let key = sec1::EcPrivateKey::try_from(der)
        .map_err(|e| KeyError::Unreadable(format!("SEC1: {e}")))?;
    if let Some(curve) = key.parameters.and_then(|p| p.named_curve()) {
        if curve.to_string() != OID_P256 {
            return Err(KeyError::WrongAlgorithm {
                found: format!("{} (SEC1)", key_kind(&EC_ALG, Some(&curve))),
            });
        }
    }
    p256::SecretKey::from_sec1_der(der)
        .map_err(|e| KeyError::Unreadable(format!("SEC1 P-256 key: {e}")))
}

/// What a `PUBLIC KEY` block holds, for the error.
fn public_key_kind(der: &[u8]) -> String {
    match p256::pkcs8::SubjectPublicKeyInfoRef::try_from(der) {
        Ok(spki) => {
            let curve = spki.algorithm.parameters_oid().ok();
            format!(
                "a public key, {} (\"BEGIN PUBLIC KEY\")",
                key_kind(&spki.algorithm.oid, curve.as_ref())
            )
        }
        Err(_) => "a public key (\"BEGIN PUBLIC KEY\")".to_owned(),
    }
}

/// The P-256 key in a PEM text (PKCS#8 or SEC1; other blocks such as `EC
/// PARAMETERS` are skipped). Anything else is an error that names what the
/// text holds instead: another algorithm or curve (by the PKCS#8 or SEC1
/// algorithm OID), an encrypted key, a certificate, a public key.
fn load_secret(pem: &str) -> Result<p256::SecretKey, KeyError> {
    let blocks = pem_blocks(pem);
    let mut other = None;
    for block in &blocks {
        let (label, der) = match block {
            Ok(b) => b,
            Err(e) => return Err(KeyError::Unreadable(format!("PEM: {e}"))),
        };
        match label.as_str() {
            "PRIVATE KEY" => return pkcs8_secret(der),
            "EC PRIVATE KEY" => return sec1_secret(der),
            "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Encrypted),
            "RSA PRIVATE KEY" => {
                return Err(KeyError::WrongAlgorithm {
                    found: "an RSA key (PKCS#1, \"BEGIN RSA PRIVATE KEY\")".to_owned(),
                })
            }
            "DSA PRIVATE KEY" => {
                return Err(KeyError::WrongAlgorithm {
                    found: "a DSA key (\"BEGIN DSA PRIVATE KEY\")".to_owned(),
                })
            }
            "OPENSSH PRIVATE KEY" => {
                return Err(KeyError::Unreadable(
                    "an OpenSSH private key; write it as PKCS#8 with `ssh-keygen -p -m PKCS8 -f KEY` (it must be ECDSA P-256)".to_owned(),
                ))
            }
            "EC PARAMETERS" => {}
            _ => {
                if other.is_none() {
                    other = Some((label.clone(), der.clone()));
                }
            }
        }
    }
    Err(match other {
        Some((label, _))
            if matches!(
                label.as_str(),
                "CERTIFICATE" | "TRUSTED CERTIFICATE" | "X509 CERTIFICATE"
            ) =>
        {
            KeyError::NotPrivate {
                found: format!("a certificate (\"BEGIN {label}\")"),
            }
        }
        Some((label, der)) if label == "PUBLIC KEY" => KeyError::NotPrivate {
            found: public_key_kind(&der),
        },
        Some((label, _)) if label.contains("CERTIFICATE REQUEST") => KeyError::NotPrivate {
            found: format!("a certificate signing request (\"BEGIN {label}\")"),
        },
        Some((label, _)) => KeyError::Unreadable(format!(
            "found a \"BEGIN {label}\" block and no private key"
        )),
        None if blocks.is_empty() => {
            KeyError::Unreadable("no PEM block (\"-----BEGIN ...-----\") found".to_owned())
        }
        None => KeyError::Unreadable("EC parameters only, no key".to_owned()),
    })
}

/// An in-memory P-256 key on the backend ([`BACKEND`]; hedged nonces with
/// aws-lc-rs and ring: the nonce mixes the key, the message and fresh
/// randomness).
pub struct KeySigner {
    #[cfg(not(feature = "rustcrypto"))]
    pair: backend::signature::EcdsaKeyPair,
    #[cfg(not(feature = "rustcrypto"))]
    rng: backend::rand::SystemRandom,
    #[cfg(feature = "rustcrypto")]
    key: DeterministicSigner,
    public: Vec<u8>,
}

impl std::fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySigner").finish_non_exhaustive()
    }
}

impl KeySigner {
    /// Load a PKCS#8 or SEC1 PEM P-256 private key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let secret = load_secret(pem)?;
        let public = secret.public_key().to_sec1_bytes().to_vec();
        #[cfg(not(feature = "rustcrypto"))]
        {
            use p256::pkcs8::EncodePrivateKey;
            let der = secret
                .to_pkcs8_der()
                .map_err(|e| KeyError::Backend(e.to_string()))?;
            let rng = backend::rand::SystemRandom::new();
            #[cfg(feature = "aws-lc-rs")]
            let pair = backend::signature::EcdsaKeyPair::from_pkcs8(
                &backend::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                der.as_bytes(),
            );
            #[cfg(not(feature = "aws-lc-rs"))]
            let pair = backend::signature::EcdsaKeyPair::from_pkcs8(
                &backend::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                der.as_bytes(),
                &rng,
            );
            let pair = pair.map_err(|e| KeyError::Backend(e.to_string()))?;
            Ok(KeySigner { pair, rng, public })
        }
        #[cfg(feature = "rustcrypto")]
        {
            Ok(KeySigner {
                key: DeterministicSigner::from_secret(secret),
                public,
            })
        }
    }
}

impl Signer for KeySigner {
    fn sign_es256(&self, message: &[u8]) -> Result<RawSignature, KeyError> {
        #[cfg(not(feature = "rustcrypto"))]
        {
            let sig = self
                .pair
                .sign(&self.rng, message)
                .map_err(|e| KeyError::SignFailed(e.to_string()))?;
            sig.as_ref().try_into().map_err(|_| {
                KeyError::SignFailed("backend returned a signature that is not 64 bytes".into())
            })
        }
        #[cfg(feature = "rustcrypto")]
        {
            self.key.sign_es256(message)
        }
    }
    fn public_key(&self) -> Option<Vec<u8>> {
        Some(self.public.clone())
    }
}

/// A P-256 key that signs with RFC 6979 deterministic nonces (pure-Rust
/// `p256`): the same input always gives the same token, which is what golden
/// test files need. Slower than [`KeySigner`].
pub struct DeterministicSigner {
    key: p256::ecdsa::SigningKey,
}

impl std::fmt::Debug for DeterministicSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeterministicSigner")
            .finish_non_exhaustive()
    }
}

impl DeterministicSigner {
    /// Load a PKCS#8 or SEC1 PEM P-256 private key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        Ok(Self::from_secret(load_secret(pem)?))
    }
    fn from_secret(secret: p256::SecretKey) -> Self {
        DeterministicSigner {
            key: p256::ecdsa::SigningKey::from(secret),
        }
    }
}

impl Signer for DeterministicSigner {
    fn sign_es256(&self, message: &[u8]) -> Result<RawSignature, KeyError> {
        use p256::ecdsa::signature::Signer as _;
        let sig: p256::ecdsa::Signature = self
            .key
            .try_sign(message)
            .map_err(|e| KeyError::SignFailed(e.to_string()))?;
        let bytes = sig.to_bytes();
        let mut out = [0u8; ES256_SIG_LEN];
        if bytes.len() != ES256_SIG_LEN {
            return Err(KeyError::SignFailed("signature is not 64 bytes".into()));
        }
        out.copy_from_slice(&bytes);
        Ok(out)
    }
    fn public_key(&self) -> Option<Vec<u8>> {
        Some(
            self.key
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
        )
    }
}

/// A P-256 public key (a signer's certificate key) parsed once and checked
/// to be on the curve, for verifying many signatures: a cached certificate
/// chain keeps one. Cheap to clone.
#[derive(Clone)]
pub struct PublicKey {
    point: std::sync::Arc<[u8]>,
    #[cfg(all(feature = "aws-lc-rs", not(feature = "rustcrypto")))]
    parsed: std::sync::Arc<backend::signature::ParsedPublicKey>,
    #[cfg(feature = "rustcrypto")]
    parsed: p256::ecdsa::VerifyingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("point_len", &self.point.len())
            .finish_non_exhaustive()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.point == other.point
    }
}
impl Eq for PublicKey {}

impl PublicKey {
    /// Parse an uncompressed SEC1 P-256 point (65 bytes, `04 || x || y`).
    pub fn from_point(point: &[u8]) -> Result<Self, SignatureError> {
        if point.len() != 65 || point.first() != Some(&4) {
            return Err(SignatureError::BadPublicKey);
        }
        #[cfg(feature = "rustcrypto")]
        let parsed = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
            .map_err(|_| SignatureError::BadPublicKey)?;
        #[cfg(all(feature = "aws-lc-rs", not(feature = "rustcrypto")))]
        let parsed = std::sync::Arc::new(
            backend::signature::ParsedPublicKey::new(
                &backend::signature::ECDSA_P256_SHA256_FIXED,
                point,
            )
            .map_err(|_| SignatureError::BadPublicKey)?,
        );
        // ring has no parsed key type: check the point now (on the curve),
        // so a bad key is an error here as with the other backends.
        #[cfg(all(not(feature = "aws-lc-rs"), not(feature = "rustcrypto")))]
        p256::PublicKey::from_sec1_bytes(point).map_err(|_| SignatureError::BadPublicKey)?;
        Ok(PublicKey {
            point: point.into(),
            #[cfg(any(feature = "aws-lc-rs", feature = "rustcrypto"))]
            parsed,
        })
    }

    /// The uncompressed SEC1 point.
    pub fn point(&self) -> &[u8] {
        &self.point
    }

    /// Verify a raw ES256 signature over `message` (see [`verify_es256`]).
    pub fn verify(&self, message: &[u8], signature: &RawSignature) -> Result<(), SignatureError> {
        #[cfg(all(feature = "aws-lc-rs", not(feature = "rustcrypto")))]
        {
            self.parsed
                .verify_sig(message, signature)
                .map_err(|_| SignatureError::Mismatch)
        }
        #[cfg(all(not(feature = "aws-lc-rs"), not(feature = "rustcrypto")))]
        {
            backend::signature::UnparsedPublicKey::new(
                &backend::signature::ECDSA_P256_SHA256_FIXED,
                &self.point,
            )
            .verify(message, signature)
            .map_err(|_| SignatureError::Mismatch)
        }
        #[cfg(feature = "rustcrypto")]
        {
            p256_verify(&self.parsed, message, signature)
        }
    }
}

/// SHA-256 of a PASSporT's signing input, taken once by the backend and
/// used twice: the signature is verified over it and the replay store keys
/// the PASSporT by its prefix (`replay::replay_key`), where both used to
/// hash the ~450 bytes on their own.
pub(crate) struct Prehashed(backend::digest::Digest);

impl Prehashed {
    pub(crate) fn of(message: &[u8]) -> Self {
        Prehashed(backend::digest::digest(&backend::digest::SHA256, message))
    }

    /// The 32 bytes of the digest.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl PublicKey {
    /// [`verify`](Self::verify), with `digest` = [`Prehashed::of`]`(message)`:
    /// aws-lc-rs verifies the digest (no second hash); the other backends,
    /// which take only the message, hash it again.
    pub(crate) fn verify_prehashed(
        &self,
        message: &[u8],
        digest: &Prehashed,
        signature: &RawSignature,
    ) -> Result<(), SignatureError> {
        #[cfg(all(feature = "aws-lc-rs", not(feature = "rustcrypto")))]
        {
            let _ = message;
            self.parsed
                .verify_digest_sig(&digest.0, signature)
                .map_err(|_| SignatureError::Mismatch)
        }
        #[cfg(not(all(feature = "aws-lc-rs", not(feature = "rustcrypto"))))]
        {
            let _ = digest;
            self.verify(message, signature)
        }
    }
}

#[cfg(feature = "rustcrypto")]
fn p256_verify(
    key: &p256::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &RawSignature,
) -> Result<(), SignatureError> {
    use p256::ecdsa::signature::Verifier as _;
    let sig =
        p256::ecdsa::Signature::from_slice(signature).map_err(|_| SignatureError::Mismatch)?;
    // p256 rejects high-S only in `verify_prehash` normalisation paths; normalise
    // explicitly so every backend accepts RFC 7515 A.3.
    let sig = sig.normalize_s().unwrap_or(sig);
    key.verify(message, &sig)
        .map_err(|_| SignatureError::Mismatch)
}

/// Verify a raw ES256 signature over `message` with an uncompressed SEC1
/// P-256 public point. High-S signatures are valid (RFC 7515 A.3 is one);
/// `r` or `s` equal to zero or not below the group order are rejected.
/// Parses the key every time: keep a [`PublicKey`] for repeated checks.
pub fn verify_es256(
    public_point: &[u8],
    message: &[u8],
    signature: &RawSignature,
) -> Result<(), SignatureError> {
    #[cfg(not(feature = "rustcrypto"))]
    {
        if public_point.len() != 65 || public_point.first() != Some(&4) {
            return Err(SignatureError::BadPublicKey);
        }
        backend::signature::UnparsedPublicKey::new(
            &backend::signature::ECDSA_P256_SHA256_FIXED,
            public_point,
        )
        .verify(message, signature)
        .map_err(|_| SignatureError::Mismatch)
    }
    #[cfg(feature = "rustcrypto")]
    {
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(public_point)
            .map_err(|_| SignatureError::BadPublicKey)?;
        p256_verify(&key, message, signature)
    }
}

/// Decode a PEM public key (`BEGIN PUBLIC KEY`, SPKI) to its uncompressed point.
pub fn public_point_from_pem(pem: &str) -> Result<Vec<u8>, KeyError> {
    use p256::pkcs8::DecodePublicKey;
    let key = p256::PublicKey::from_public_key_pem(pem)
        .map_err(|e| KeyError::Unreadable(e.to_string()))?;
    Ok(key.to_encoded_point(false).as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// RFC 8225 Appendix A.1 private key (specs §8 b, T1).
    pub(crate) const RFC8225_A1_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgi7q2TZvN9VDFg8Vy
qCP06bETrR2v8MRvr89rn4i+UAahRANCAAQWfaj1HUETpoNCrOtp9KA8o0V79IuW
ARKt9C1cFPkyd3FBP4SeiNZxQhDrD0tdBHls3/wFe8++K2FrPyQF9vuh
-----END PRIVATE KEY-----
";

    #[test]
    fn ring_and_deterministic_signers_verify() {
        let ring_signer = KeySigner::from_pem(RFC8225_A1_KEY).unwrap();
        let det = DeterministicSigner::from_pem(RFC8225_A1_KEY).unwrap();
        assert_eq!(ring_signer.public_key(), det.public_key());
        let point = det.public_key().unwrap();
        for s in [&ring_signer as &dyn Signer, &det] {
            let sig = s.sign_es256(b"hello").unwrap();
            verify_es256(&point, b"hello", &sig).unwrap();
            assert_eq!(
                verify_es256(&point, b"hellO", &sig),
                Err(SignatureError::Mismatch)
            );
        }
        // RFC 6979: deterministic.
        assert_eq!(det.sign_es256(b"x").unwrap(), det.sign_es256(b"x").unwrap());
    }

    #[test]
    fn zero_signature_rejected() {
        let det = DeterministicSigner::from_pem(RFC8225_A1_KEY).unwrap();
        let point = det.public_key().unwrap();
        assert!(verify_es256(&point, b"m", &[0u8; 64]).is_err());
        assert!(verify_es256(&point, b"m", &[0xffu8; 64]).is_err());
    }

    /// A wrong key names what it is and what is needed (issue 22 item 4):
    /// the keys in tests/data/keys/ were made with the openssl CLI
    /// (tests/data/keys/make.sh).
    #[test]
    fn wrong_keys_name_what_they_are() {
        macro_rules! key {
            ($f:literal) => {
                include_str!(concat!("../../../tests/data/keys/", $f))
            };
        }
        let cert = include_str!("../../../certs/sp.pem");
        for (pem, id, words) in [
            (
                key!("rsa.pkcs8.pem"),
                "key-wrong-algorithm",
                &["RSA", "rsaEncryption", "1.2.840.113549.1.1.1", "P-256"][..],
            ),
            (
                key!("rsa.pkcs1.pem"),
                "key-wrong-algorithm",
                &["RSA", "PKCS#1", "P-256"],
            ),
            (
                key!("ed25519.pem"),
                "key-wrong-algorithm",
                &["Ed25519", "1.3.101.112", "P-256"],
            ),
            (
                key!("p384.pkcs8.pem"),
                "key-wrong-algorithm",
                &["P-384", "secp384r1", "1.3.132.0.34"],
            ),
            (
                key!("p384.sec1.pem"),
                "key-wrong-algorithm",
                &["P-384", "SEC1"],
            ),
            (
                key!("p521.pkcs8.pem"),
                "key-wrong-algorithm",
                &["P-521", "secp521r1", "1.3.132.0.35"],
            ),
            (
                key!("p256.encrypted.pem"),
                "key-encrypted",
                &["encrypted", "openssl pkey -in key.pem -out plain.pem"],
            ),
            (
                key!("p256.public.pem"),
                "key-not-private",
                &["public key", "P-256", "private key"],
            ),
            (cert, "key-not-private", &["certificate", "private key"]),
            ("hello", "key-unreadable", &["no PEM block"]),
        ] {
            let e = KeySigner::from_pem(pem).unwrap_err();
            let text = e.to_string();
            assert_eq!(crate::diagnostic::Diagnostic::id(&e), id, "{text}");
            for w in words {
                assert!(text.contains(w), "{id}: {w:?} not in {text:?}");
            }
            // Never the P-256 OID a wrong key used to be blamed with.
            assert!(!text.contains("unknown/unsupported algorithm"), "{text}");
            assert!(DeterministicSigner::from_pem(pem).is_err());
        }
        // A P-256 SEC1 key after an EC PARAMETERS block (openssl ecparam -genkey).
        KeySigner::from_pem(key!("p256.sec1-with-params.pem")).unwrap();
        KeySigner::from_pem(RFC8225_A1_KEY).unwrap();
    }

    #[test]
    fn bad_key_rejected() {
        assert!(KeySigner::from_pem("not a key").is_err());
        assert_eq!(
            verify_es256(&[4u8; 10], b"m", &[1u8; 64]),
            Err(SignatureError::BadPublicKey)
        );
    }
}
