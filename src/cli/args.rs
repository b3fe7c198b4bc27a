//! Command-line arguments. Flags named in issues are a contract: keep them.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The one parser of every time flag (`--now`, `--iat`, `--not-before`):
/// Unix seconds (`1767225600`) or RFC 3339 (`2026-01-01T00:00:00Z`,
/// `2026-01-01T01:00:00+01:00`).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            format!(
                "{s:?} is neither Unix seconds (1767225600) nor RFC 3339 (2026-01-01T00:00:00Z)"
            )
        })
}

#[derive(Parser, Debug)]
#[command(
    name = "shaken",
    version,
    about = "STIR/SHAKEN toolkit: sign and verify caller ID (PASSporT, SIP Identity, STI certificates)",
    long_about = None,
    args_override_self = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const SIGN_EXAMPLES: &str = "\
Examples:
  shaken sign --key sp.key.pem --x5u https://cr.example.net/sp.pem --orig '+1 215 555 0121' --dest 2125550143 --attest A
  shaken sign --sip invite.txt --key sp.key.pem --x5u https://cr.example.net/sp.pem --attest B
  shaken sign --batch requests.jsonl --key sp.key.pem --x5u https://cr.example.net/sp.pem
  shaken sign --div \"$IDENTITY\" --dest 2125550199 --key fwd.key.pem --x5u https://cr.example.net/fwd.pem
  shaken sign --sip retargeted.txt --divert --key fwd.key.pem --x5u https://cr.example.net/fwd.pem

Exit status: 0 signed (with --batch: every line signed), 1 with --batch: a line failed
(its error is on its output line), 2 usage or input error.";

const VERIFY_EXAMPLES: &str = "\
Examples:
  shaken verify \"$IDENTITY\" --trust-anchors sti-roots/ --orig 12155550121 --dest 12125550143
  shaken verify \"$IDENTITY\" --cert sp-chain.pem --trust-anchors root.pem --format json
  shaken verify --sip invite.txt --trust-anchors sti-roots/
  shaken verify --batch requests.jsonl --trust-anchors sti-roots/ --report report.html
  shaken verify --pcap calls.pcapng --trust-anchors sti-roots/

Exit status: 0 TN-Validation-Passed, 1 the call did not pass (reason in the output),
2 usage or environment error (unknown flag, unreadable file).";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Sign a call: print the SIP Identity header value for orig/dest/attest.
    #[command(after_help = SIGN_EXAMPLES)]
    Sign(SignArgs),
    /// Verify an Identity header (or a bare PASSporT) and say whether the caller ID can be trusted.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Decode an Identity header or PASSporT without checking anything (output is UNVERIFIED).
    Decode(DecodeArgs),
    /// Lab PKI: root, STI-CA and SP certificates for tests.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Show the whole job on built-in data: sign calls, verify them, catch tampering. No files, no network.
    Demo(DemoArgs),
    /// Inspect, lint and validate STI certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Run the ATIS-1000082 signing and verification service (REST).
    Serve(ServeArgs),
    /// Keep the STI-PA trust list and CRL current: verify and install them atomically.
    #[command(subcommand)]
    Trust(TrustCommand),
}

const TRUST_UPDATE_EXAMPLES: &str = "\
Examples:
  shaken trust update --list ca-list.jws --stipa-root sti-pa-root.pem --out /etc/shaken/sti-roots
  shaken trust update --stipa-api https://authenticate-api.iconectiv.com/api/v1 --user U \\
      --password-file /etc/shaken/sti-pa.pw --stipa-root sti-pa-root.pem --out /etc/shaken/sti-roots

Exit status: 0 installed (or unchanged), 1 the list was refused (the reason names the rule),
2 usage or I/O error (unreadable file, fetch failed). See docs/trust.md.";

#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    /// Verify an STI-PA trust list and install its roots into DIR (HASH.0 files, atomically).
    #[command(after_help = TRUST_UPDATE_EXAMPLES)]
    Update(TrustUpdateArgs),
    /// Show the trust list installed in DIR and when it expires (exit 1 once it has expired).
    Show(TrustShowArgs),
    /// Verify the STI-PA CRL (an indirect CRL) and install it beside the roots of DIR.
    UpdateCrl(TrustCrlArgs),
}

#[derive(Args, Debug)]
pub struct TrustUpdateArgs {
    /// The trust list: a file ('-' for stdin) or URL holding the JWS or the STI-PA answer that wraps it.
    #[arg(
        long,
        value_name = "FILE|URL",
        required_unless_present = "stipa_api",
        conflicts_with = "stipa_api"
    )]
    pub list: Option<String>,
    /// The STI-PA API base URL: log in (POST auth/login), then fetch ca-list.
    #[arg(long, value_name = "URL", requires_all = ["user", "password_file"])]
    pub stipa_api: Option<String>,
    /// The STI-PA account (with --stipa-api).
    #[arg(long, value_name = "USER", requires = "stipa_api")]
    pub user: Option<String>,
    /// File holding the STI-PA password (with --stipa-api).
    #[arg(long, value_name = "FILE", requires = "stipa_api")]
    pub password_file: Option<PathBuf>,
    /// A pinned STI-PA root (PEM) the list signer must chain to (repeatable, for a root rollover).
    #[arg(long, value_name = "PEM", required = true)]
    pub stipa_root: Vec<PathBuf>,
    /// The directory to install into (a link to the installed version).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The list signer's certificate (PEM chain, signer first) instead of fetching the header's x5u.
    #[arg(long, value_name = "FILE")]
    pub signer_cert: Option<PathBuf>,
    /// Verification time, Unix seconds or RFC 3339 [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Args, Debug)]
pub struct TrustShowArgs {
    /// The directory `trust update` installs into.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Time expiry is judged at, Unix seconds or RFC 3339 [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
}

#[derive(Args, Debug)]
pub struct TrustCrlArgs {
    /// The STI-PA CRL: a file or URL (PEM or DER).
    #[arg(value_name = "URL|FILE")]
    pub source: String,
    /// The installed trust directory to put the CRL in.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A pinned STI-PA root (PEM) the CRL signer must chain to (repeatable).
    #[arg(long, value_name = "PEM", required = true)]
    pub stipa_root: Vec<PathBuf>,
    /// The CRL signer's certificate (PEM chain) instead of the CRL's authorityInfoAccess URL.
    #[arg(long, value_name = "FILE")]
    pub signer_cert: Option<PathBuf>,
    /// Verification time, Unix seconds or RFC 3339 [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Subcommand, Debug)]
pub enum CertCommand {
    /// Show every certificate of a chain (subject, issuer, validity, key, TNAuthList, policies, CRL DPs) and lint it against ATIS-1000080 (always exit 0; see `cert lint`).
    Inspect(CertInspectArgs),
    /// Validate a chain to the trust anchors (no PASSporT) and say why it fails.
    Verify(CertVerifyArgs),
    /// Lint a chain against ATIS-1000080 and its validity at --now; exit 1 on any error-level finding (for CI).
    #[command(
        after_help = "Exit status: 0 no error-level finding (warnings allowed), 1 an error-level finding,\n2 usage or input error (unreadable file, fetch failed)."
    )]
    Lint(CertLintArgs),
}

#[derive(Args, Debug)]
pub struct CertLintArgs {
    /// PEM/DER file, URL (fetched with the x5u rules) or '-' for stdin.
    #[arg(value_name = "FILE|URL|-")]
    pub source: String,
    /// Time the validity is checked at, Unix seconds or RFC 3339 [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Args, Debug)]
pub struct CertInspectArgs {
    /// PEM/DER file, URL (fetched with the x5u rules) or '-' for stdin.
    #[arg(value_name = "FILE|URL|-")]
    pub source: String,
    /// Time expiry is judged at, Unix seconds or RFC 3339 [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Args, Debug)]
pub struct CertVerifyArgs {
    /// Chain to validate (PEM, end entity first, or one DER certificate).
    #[arg(value_name = "CHAIN")]
    pub chain: String,
    /// Trusted roots: PEM file or directory (repeatable). Default: $SHAKEN_TRUST_ANCHORS.
    #[arg(long, value_name = "PATH")]
    pub trust_anchors: Vec<PathBuf>,
    /// Verification time, Unix seconds or RFC 3339 [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
    #[command(flatten)]
    pub crl: CrlArgs,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// TOML configuration file holding the same settings; flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Signing key (PKCS#8 or SEC1 PEM) for /stir/v1/signing.
    #[arg(long, value_name = "KEY.pem")]
    pub key: Option<PathBuf>,
    /// x5u URL put into signed PASSporTs.
    #[arg(long, value_name = "URL")]
    pub x5u: Option<String>,
    /// Certificate chain used instead of fetching x5u (labs, tests).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Trusted roots: PEM file or directory (repeatable). Default: $SHAKEN_TRUST_ANCHORS.
    #[arg(long, value_name = "PATH")]
    pub trust_anchors: Vec<PathBuf>,
    /// Fetch the content Rich Call Data references (logo, jCard) to check its rcdi digests.
    #[arg(long)]
    pub fetch_rcd: bool,
    /// Most div PASSporTs (RFC 8946) accepted in one diverted call; more fail the chain (div-too-many). Default 5.
    #[arg(long, value_name = "N")]
    pub max_div: Option<usize>,
    /// Freshness window for iat and the request time, seconds.
    #[arg(long, value_name = "SECONDS")]
    pub max_age: Option<u32>,
    /// Turn replay detection off (on by default in server mode).
    #[arg(long)]
    pub no_replay: bool,
    /// Share replay detection with the other shaken processes of this host
    /// through DIR (put it on tmpfs, e.g. /dev/shm/shaken-replay).
    #[arg(long, value_name = "DIR")]
    pub replay_dir: Option<PathBuf>,
    /// Most requests handled at once.
    #[arg(long, value_name = "N")]
    pub max_concurrent: Option<usize>,
    /// Worker threads of the service (1 to 1024; default: one per CPU this
    /// process may run on).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Per-request timeout, milliseconds.
    #[arg(long, value_name = "MS")]
    pub request_timeout_ms: Option<u64>,
    /// Time a client may take to send a request's headers, milliseconds (default 10000).
    #[arg(long, value_name = "MS")]
    pub header_read_timeout_ms: Option<u64>,
    /// Largest request body, bytes (default 16384); larger bodies get 413.
    #[arg(long, value_name = "BYTES")]
    pub max_body: Option<usize>,
    /// Log format on stderr: text or json (filter with RUST_LOG, default info).
    #[arg(long, value_enum)]
    pub log_format: Option<OutFormat>,
    /// Freeze the server clock at this time, Unix seconds or RFC 3339 (labs and tests replaying old traffic).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    /// API keys clients must send as `Authorization: Bearer KEY` for signing and
    /// verification: one per line, `#` comments, `sha256:HEX` for the SHA-256 of a key.
    #[arg(long, value_name = "FILE")]
    pub api_keys: Option<PathBuf>,
    /// Put /metrics behind the API keys too (it is open by default, like /health).
    #[arg(long)]
    pub metrics_auth: bool,
    /// Serve a page for people on / (paste an Identity value or an INVITE, or upload a
    /// capture; see the verdict, the decoded PASSporT and the chain). Its API obeys --api-keys.
    #[arg(long)]
    pub ui: bool,
    /// Serve HTTPS with this certificate chain (PEM, end entity first); needs --tls-key.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: clients must present a certificate chained to this CA (PEM); needs --tls-cert.
    #[arg(long, value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
    /// Accept connections only from this network (CIDR, repeatable); other peers are disconnected.
    #[arg(long, value_name = "CIDR")]
    pub allow_from: Vec<String>,
    /// Start a signing service on a non-loopback address without --api-keys or --client-ca
    /// (anyone who reaches the port can then get PASSporTs signed with your certificate).
    #[arg(long)]
    pub allow_unauthenticated_signing: bool,
    /// Also reload (as on SIGHUP) every SECONDS: trust anchors, CRLs, key, x5u certificate, TLS, API keys.
    #[arg(long, value_name = "SECONDS")]
    pub reload_interval: Option<u64>,
    /// Keep the STI-PA trust list current: fetch it from URL at start and every
    /// --trust-list-interval, verify it against --stipa-root and install it into the one
    /// --trust-anchors DIR (as `shaken trust update` does); a failed refresh keeps the last
    /// good list.
    #[arg(long, value_name = "URL")]
    pub trust_list_url: Option<String>,
    /// The pinned STI-PA root that signs the trust list (repeatable, for a root rollover).
    #[arg(long, value_name = "PEM")]
    pub stipa_root: Vec<std::path::PathBuf>,
    /// Seconds between trust-list refreshes [default: 3600].
    #[arg(long, value_name = "SECONDS")]
    pub trust_list_interval: Option<u64>,
    #[command(flatten)]
    pub tn: TnArgs,
    #[command(flatten)]
    pub crl: CrlArgs,
    #[command(flatten)]
    pub fetch: FetchArgs,
    #[command(flatten)]
    pub redis: RedisArgs,
}

/// Revocation options.
#[derive(Args, Debug, Clone, Default)]
pub struct CrlArgs {
    /// CRL file or URL (repeatable).
    #[arg(long, value_name = "FILE|URL")]
    pub crl: Vec<String>,
    /// Also fetch the CRL distribution points named in the certificates.
    #[arg(long)]
    pub fetch_crl: bool,
    /// What an unreachable or missing CRL does: hard (fail, 437) or soft (warning).
    #[arg(long, value_name = "POLICY", default_value = "soft")]
    pub crl_policy: CrlPolicyArg,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum CrlPolicyArg {
    /// An unreachable CRL fails the verification (437).
    Hard,
    /// An unreachable CRL is reported as a warning.
    #[default]
    Soft,
}

#[derive(Subcommand, Debug)]
pub enum PkiCommand {
    /// Write a lab PKI (root, intermediate STI-CA, SP certificate with TNAuthList, keys, CRL) into DIR.
    Init(PkiInitArgs),
}

#[derive(Args, Debug)]
pub struct PkiInitArgs {
    /// Directory to write (created if missing).
    pub dir: PathBuf,
    /// Service Provider Code for the SP certificate's TNAuthList.
    #[arg(long, default_value = "1234")]
    pub spc: String,
    /// Validity of every certificate, in days from the start of validity.
    #[arg(long, default_value_t = 3650)]
    pub days: u32,
    /// Start of validity, Unix seconds or RFC 3339 [default: one hour ago]. Set it before the
    /// oldest call you will replay (a capture's timestamps are checked against it).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub not_before: Option<i64>,
    /// CRL distribution point URL written into the certificates.
    #[arg(long, default_value = "http://127.0.0.1:8080/crl.pem")]
    pub crl_url: String,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
    /// JWT claim constraint (RFC 9118) on the SP certificate: PASSporTs must carry this claim (repeatable), e.g. rcd.
    #[arg(long, value_name = "CLAIM")]
    pub claim_must_include: Vec<String>,
    /// JWT claim constraint: CLAIM, when present, must be one of the values given (repeatable), e.g. 'rcd={"nam":"Acme Bank"}' or 'crn=Card fraud alert'.
    #[arg(long, value_name = "CLAIM=VALUE")]
    pub claim_permitted: Vec<String>,
    /// JWT claim constraint: PASSporTs must not carry this claim (repeatable), e.g. rcd for a gateway delegate.
    #[arg(long, value_name = "CLAIM")]
    pub claim_must_exclude: Vec<String>,
    /// Output format: text (one line per file on stderr) or json (one object on stdout).
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum SignFormat {
    /// The Identity header value: TOKEN;info=<URL>;alg=ES256;ppt=shaken
    Header,
    /// The bare PASSporT.
    Token,
    /// JSON with identity, token, header and claims.
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// For people.
    Text,
    /// One JSON object (JSON Lines for streams).
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct TnArgs {
    /// How numbers written without '+' become global: nanp (10 digits gain a leading 1) or none.
    #[arg(long, value_name = "RULE", default_value = "nanp")]
    pub tn_national: shaken::tn::NationalRule,
}

#[derive(Args, Debug)]
pub struct SignArgs {
    /// Private key (PKCS#8 or SEC1 PEM, P-256).
    #[arg(long, value_name = "KEY.pem")]
    pub key: PathBuf,
    /// URL of the certificate chain (goes into x5u and info).
    #[arg(long, value_name = "URL")]
    pub x5u: String,
    /// Calling number (any common format; canonicalised).
    #[arg(long, value_name = "TN", required_unless_present_any = ["sip", "batch", "div"])]
    pub orig: Option<String>,
    /// Called number (repeatable); with --div, the new target (once).
    #[arg(long, value_name = "TN", required_unless_present_any = ["sip", "batch"])]
    pub dest: Vec<String>,
    /// Attestation level: A (full), B (partial) or C (gateway).
    #[arg(long, value_name = "A|B|C", required_unless_present_any = ["batch", "div", "divert"])]
    pub attest: Option<shaken::passport::Attestation>,
    /// Sign a div PASSporT (RFC 8946) for a call that arrived with IDENTITY (its Identity value or
    /// PASSporT, or '-' for stdin) and is retargeted to --dest; prints the div Identity value (ppt=div).
    #[arg(long, value_name = "IDENTITY|-", conflicts_with_all = ["orig", "attest", "origid", "iat", "sip", "batch"])]
    pub div: Option<String>,
    /// With --sip: the request was retargeted (its Request-URI is the new target); keep every
    /// Identity header and add a div PASSporT for each one that needs it (RFC 8946 §4.1).
    #[arg(long, requires = "sip", conflicts_with_all = ["attest", "origid", "iat"])]
    pub divert: bool,
    /// With --div or --divert: the History-Info index of the retargeting (e.g. 1.2), put into div.hi.
    #[arg(long, value_name = "INDEX")]
    pub hi: Option<String>,
    /// Sign a SIP request: orig from P-Asserted-Identity (else From), dest from To; prints the message with Identity (and Date) added.
    /// (--format does not apply: the output is the SIP message.)
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["orig", "dest", "batch", "format"])]
    pub sip: Option<String>,
    /// JSON Lines of ATIS-1000082 signing requests; prints {"identity": ...} per line, in order.
    /// (Each line carries its own attest, origid and iat.)
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["orig", "dest", "attest", "origid", "iat", "format"])]
    pub batch: Option<String>,
    /// Worker threads for --batch (default: all cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Origination identifier (UUID); default a new random UUID v4.
    #[arg(long, value_name = "UUID")]
    pub origid: Option<String>,
    /// Issued-at time, Unix seconds or RFC 3339 [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub iat: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SignFormat::Header)]
    pub format: SignFormat,
    /// Sign with RFC 6979 deterministic nonces (same input, same token; slower).
    #[arg(long)]
    pub deterministic: bool,
    #[command(flatten)]
    pub tn: TnArgs,
    #[command(flatten)]
    pub rcd: RcdSignArgs,
}

/// Rich Call Data to sign (RFC 9795): the caller's name, logo, jCard and
/// call reason.
#[derive(Args, Debug, Clone, Default)]
pub struct RcdSignArgs {
    /// Rich Call Data: the caller's name to sign (RFC 9795 rcd.nam; "" for none).
    #[arg(long, value_name = "TEXT")]
    pub rcd_nam: Option<String>,
    /// Rich Call Data: an alternate number to show (rcd.apn; canonicalised).
    #[arg(long, value_name = "TN", requires = "rcd_nam")]
    pub rcd_apn: Option<String>,
    /// Rich Call Data: the URL of the caller's logo (rcd.icn).
    #[arg(long, value_name = "URL", requires = "rcd_nam")]
    pub rcd_icn: Option<String>,
    /// Rich Call Data: the URL of the caller's jCard (rcd.jcl).
    #[arg(
        long,
        value_name = "URL",
        requires = "rcd_nam",
        conflicts_with = "rcd_jcd"
    )]
    pub rcd_jcl: Option<String>,
    /// Rich Call Data: a jCard file (RFC 7095 JSON) to sign inline (rcd.jcd).
    #[arg(long, value_name = "FILE", requires = "rcd_nam")]
    pub rcd_jcd: Option<PathBuf>,
    /// The call reason to sign (RFC 9795 crn), e.g. "Card fraud alert".
    #[arg(long, value_name = "TEXT")]
    pub crn: Option<String>,
    /// Sign integrity digests (rcdi) of the name, the jCard and the content the URLs reference (fetched now, with the fetch flags below).
    #[arg(long, requires = "rcd_nam")]
    pub rcdi: bool,
    /// Put the Rich Call Data in a separate ppt=rcd PASSporT (a second Identity header) instead of the shaken one.
    #[arg(long)]
    pub rcd_separate: bool,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Identity header value (or a bare full-form PASSporT), or '-' for stdin.
    #[arg(value_name = "VALUE|-")]
    pub value: Option<String>,
    /// Expected calling number; the PASSporT's orig must match it. (--sip, --batch and --pcap
    /// take the numbers from each call.)
    #[arg(long, value_name = "TN", conflicts_with_all = ["sip", "batch", "pcap"])]
    pub orig: Option<String>,
    /// Expected called number (repeatable); each must be in the PASSporT's dest.
    #[arg(long, value_name = "TN", conflicts_with_all = ["sip", "batch", "pcap"])]
    pub dest: Vec<String>,
    /// Certificate or chain (PEM, end entity first) to use instead of fetching x5u.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Trusted STI-CA roots: PEM file or directory of PEM files (repeatable). Default: $SHAKEN_TRUST_ANCHORS (paths separated by ':').
    #[arg(long, value_name = "PATH")]
    pub trust_anchors: Vec<PathBuf>,
    /// Verification time, Unix seconds or RFC 3339 [default: now; with --pcap, each packet's time].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    /// Freshness window for iat, seconds, applied to the past and the future.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub max_age: u32,
    /// Accept iat written as a JSON string (RFC 8225 §7.1 example style).
    #[arg(long)]
    pub lenient_iat: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
    /// Read one SIP request (INVITE) and verify every Identity header in it against its From/PAI, To and Date.
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["value", "batch", "pcap"])]
    pub sip: Option<String>,
    /// JSON Lines of ATIS-1000082 verification requests; prints one JSON result per line, in order.
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["value", "pcap"])]
    pub batch: Option<String>,
    /// Verify every INVITE in a pcap/pcapng capture ('-' reads a capture stream from stdin), at the capture's timestamps.
    #[arg(long, value_name = "FILE|-", conflicts_with = "value")]
    pub pcap: Option<String>,
    /// Write a self-contained HTML report (with --batch, --pcap or --hep).
    #[arg(long, value_name = "FILE.html", alias = "html")]
    pub report: Option<PathBuf>,
    /// Write the summary as JSON (with --batch, --pcap or --hep; bounded tables).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Write one CSV row per call (with --batch, --pcap or --hep).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the suspicious calls as CSV for a traceback request (with --batch, --pcap or --hep).
    #[arg(long, value_name = "FILE")]
    pub traceback: Option<PathBuf>,
    /// Listen for HEP v3 (Homer) on ADDR, UDP and TCP, and verify every INVITE mirrored to it.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["value", "batch", "pcap", "sip"])]
    pub hep: Option<String>,
    /// With --hep: print a summary (and rewrite --summary-json and --report) every SECONDS.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub summary_every: u64,
    /// With --hep: stop after N calls (default: run until interrupted).
    #[arg(long, value_name = "N")]
    pub max_calls: Option<u64>,
    /// Worker threads for --batch (default: all cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Detect replayed PASSporTs (default: on for --batch/--pcap, off for one header).
    #[arg(long, conflicts_with = "no_replay")]
    pub replay: bool,
    /// Turn replay detection off.
    #[arg(long, conflicts_with = "replay_dir")]
    pub no_replay: bool,
    /// Share replay detection with the other shaken processes of this host
    /// through DIR (put it on tmpfs, e.g. /dev/shm/shaken-replay); implies --replay.
    #[arg(long, value_name = "DIR")]
    pub replay_dir: Option<std::path::PathBuf>,
    /// Most div PASSporTs (RFC 8946) accepted in one call; more fail the chain (div-too-many).
    #[arg(long, value_name = "N", default_value_t = shaken::div::DEFAULT_MAX_DIV)]
    pub max_div: usize,
    /// Fetch the content Rich Call Data references (logo, jCard) to check its rcdi digests, with the x5u fetch rules; off: those digests are unverified.
    #[arg(long)]
    pub fetch_rcd: bool,
    /// With --sip: signal the verstat with the attestation appended (TN-Validation-Passed-A), a common vendor extension; the JSON `verstat` field stays standard.
    #[arg(long)]
    pub verstat_attest: bool,
    #[command(flatten)]
    pub tn: TnArgs,
    #[command(flatten)]
    pub crl: CrlArgs,
    #[command(flatten)]
    pub fetch: FetchArgs,
    #[command(flatten)]
    pub redis: RedisArgs,
}

/// How certificates and CRLs are fetched.
#[derive(Args, Debug, Clone, Default)]
pub struct FetchArgs {
    /// Allow plain-http x5u and CRL URLs (labs only; STI-CRs must use https).
    #[arg(long)]
    pub allow_http_x5u: bool,
    /// Allow x5u/CRL hosts on loopback, private, link-local or other non-public addresses (labs only; SSRF guard off).
    #[arg(long)]
    pub allow_private_x5u: bool,
    /// Allow x5u/CRL URLs on a port other than 443 (https) or 80 (http) for public hosts.
    #[arg(long)]
    pub allow_any_port_x5u: bool,
    /// Extra TLS root (PEM) for certificate servers (repeatable).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Vec<std::path::PathBuf>,
    /// On-disk certificate cache shared between runs and processes.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<std::path::PathBuf>,
    /// Connect timeout for x5u/CRL fetches, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub connect_timeout_ms: u64,
    /// Total timeout for one x5u/CRL fetch, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub fetch_timeout_ms: u64,
    /// Most x5u/CRL/Rich Call Data fetches in flight at once; a fetch that gets no slot within --fetch-timeout-ms fails fetch-busy, nothing sent [default: 64].
    #[arg(long, value_name = "N", value_parser = parse_max_fetches)]
    pub max_fetches: Option<usize>,
}

/// `--max-fetches`: a whole number, at least 1.
fn parse_max_fetches(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("0 would refuse every fetch: give at least 1 (default 64)".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "{s:?} is not a whole number of fetches (at least 1)"
        )),
    }
}

#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// Identity header value or PASSporT, or '-' for stdin.
    #[arg(value_name = "VALUE|-")]
    pub value: Option<String>,
    /// Output format: json (indented, as decode has always printed) or text.
    #[arg(long, value_enum, default_value_t = OutFormat::Json)]
    pub format: OutFormat,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
}

/// A fleet of verifiers sharing replay detection and fetched certificates
/// through Redis (issue 18).
#[derive(Args, Debug, Clone, Default)]
pub struct RedisArgs {
    /// Share replay detection, fetched certificates and CRLs with the other verifiers of a fleet through Redis or Valkey: redis://[user:password@]host[:port][/db], or rediss:// for TLS; implies --replay.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// File holding the Redis password (first line), instead of the one in the URL.
    #[arg(long, value_name = "FILE")]
    pub redis_password_file: Option<PathBuf>,
    /// Prefix of every Redis key (default shaken:).
    #[arg(long, value_name = "PREFIX")]
    pub redis_prefix: Option<String>,
    /// Bound on every Redis call, milliseconds (default 50).
    #[arg(long, value_name = "MS")]
    pub redis_timeout_ms: Option<u64>,
    /// When Redis does not answer in time: open verifies without cross-node replay detection (with a warning), closed fails the call (replay-unavailable). Default open.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub redis_failure: Option<RedisFailureArg>,
}

/// `--redis-failure`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum RedisFailureArg {
    /// Verify without cross-node replay detection, with a warning.
    Open,
    /// A call whose replay status cannot be checked does not pass.
    Closed,
}
