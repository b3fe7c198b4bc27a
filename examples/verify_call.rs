//! A SIP stack's verification service: check an incoming INVITE's Identity header.
//!
//! `cargo run --example verify_call -- 'IDENTITY' FROM TO [NOW]` verifies with the
//! committed lab chain in `certs/` (a real STI-VS would fetch x5u through
//! `shaken::online::OnlineVerifier`) and prints the verstat to put in
//! P-Asserted-Identity, or the Reason header to send back.
use shaken::cert::{parse_chain, TrustAnchors};
use shaken::identity::IdentityHeader;
use shaken::verify::{report, CallContext, PartyId, Verifier};
use shaken::Limits;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/certs");
    let limits = Limits::default();

    // Built once at start-up and shared (Arc) by every call.
    let mut anchors = TrustAnchors::new();
    anchors.add_pem(&std::fs::read(format!("{dir}/root.pem"))?)?;
    let verifier = Verifier::new(anchors);
    let chain = parse_chain(&std::fs::read(format!("{dir}/sp-chain.pem"))?, &limits)?;

    let Some(identity) = args.first() else {
        eprintln!("usage: verify_call 'IDENTITY' FROM TO [NOW]");
        std::process::exit(2);
    };
    let now = match args.get(3) {
        Some(n) => n.parse()?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64,
    };
    let policy = verifier.policy().tn;
    let mut ctx = CallContext::at(now);
    if let Some(from) = args.get(1) {
        ctx.orig.push(PartyId::from_uri(from, &policy));
    }
    if let Some(to) = args.get(2) {
        ctx.dest.push(PartyId::from_uri(to, &policy));
    }
    let result = IdentityHeader::parse(identity, &limits)
        .map_err(|e| e.to_string())
        .and_then(|h| {
            verifier
                .verify_with_chain(&h, &ctx, &chain)
                .map_err(|f| f.error.to_string())
        });
    match &result {
        Ok(v) => println!(
            ";verstat=TN-Validation-Passed (attestation {:?})",
            v.attestation()
        ),
        Err(why) => println!("verification failed: {why}"),
    }
    // The same outcome as a report (what `shaken verify --format json` prints).
    if let Ok(h) = IdentityHeader::parse(identity, &limits) {
        let r = report(&verifier.verify_with_chain(&h, &ctx, &chain));
        if let Some(line) = r.reason_header() {
            println!("{line}");
        }
    }
    Ok(())
}
