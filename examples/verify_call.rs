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
    let result = match IdentityHeader::parse(identity, &limits) {
        Ok(h) => verifier.verify_with_chain(&h, &ctx, &chain),
        Err(e) => Err(Box::new(shaken::verify::Failure::new(e.into()))),
    };
    // The same outcome as `shaken verify --format json` prints.
    let r = report(&result);
    match (&result, r.reason_header()) {
        (Ok(v), _) => println!(
            ";verstat={} (attestation {})",
            r.verstat,
            v.attestation().map_or("none", |a| a.as_str())
        ),
        (Err(f), Some(reason)) => {
            println!(";verstat={}", r.verstat);
            println!("{reason}");
            eprintln!("why: {}", f.error);
        }
        (Err(f), None) => eprintln!("why: {}", f.error),
    }
    Ok(())
}
