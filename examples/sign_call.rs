//! A SIP stack's authentication service: sign an outgoing INVITE's caller ID.
//!
//! `cargo run --example sign_call -- [ORIG] [DEST]` prints the Identity header
//! line to add to the INVITE, using the committed lab key in `certs/`.
use shaken::crypto::KeySigner;
use shaken::identity::IdentityHeader;
use shaken::passport::{sign, Attestation, Claims, Header};
use shaken::tn::{TelephoneNumber, TnPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let orig = args
        .next()
        .unwrap_or_else(|| "sip:+1-215-555-0121@carrier.example;user=phone".into());
    let dest = args.next().unwrap_or_else(|| "tel:+1-212-555-0143".into());
    let policy = TnPolicy::default();
    // From the INVITE's P-Asserted-Identity (or From) and To, canonicalised.
    let orig = TelephoneNumber::parse(&orig, &policy)?;
    let dest = TelephoneNumber::parse(&dest, &policy)?;

    // Load the key once at start-up; a KeySigner is Send + Sync, share it across calls.
    let key = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/certs/sp.key.pem"))?;
    let signer = KeySigner::from_pem(&key)?;
    let x5u = "https://cr.example.net/sp.pem";

    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let claims = Claims::shaken(
        Attestation::A,
        orig.to_string(),
        vec![dest.to_string()],
        iat,
        uuid::Uuid::new_v4().to_string(),
    );
    let token = sign(&Header::shaken(x5u), &claims, &signer)?;
    println!("Identity: {}", IdentityHeader::shaken(token, x5u));
    Ok(())
}
