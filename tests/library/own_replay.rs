//! `StiVs::with_own_replay`: what `serve --ui` checks with. A look at a
//! PASSporT records nothing in the service's replay store, and a store of
//! its own (a capture's) sees replays inside it only.

use crate::support::certs;
use shaken::config::{ReplayMode, Source};
use shaken::{CallContext, ReplayStore, StiVs, VerifierConfig};
use std::path::PathBuf;
use std::sync::Arc;

/// The time the sample inputs were signed (examples/data/README.md).
const SIGNED_AT: i64 = 1_800_000_000;

fn passing_sample() -> String {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data/verify.jsonl"),
    )
    .unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    line["identity"].as_str().unwrap().to_owned()
}

fn reason(r: &shaken::Report) -> Option<&str> {
    r.reason.as_ref().map(|x| x.id.as_str())
}

#[test]
fn a_look_records_nothing_and_an_own_store_sees_only_its_own_calls() {
    let mut c = VerifierConfig::default();
    c.trust_anchors = vec![Source::Path(certs("root.pem").into())];
    c.cert = Some(Source::Path(certs("sp-chain.pem").into()));
    c.replay = ReplayMode::Memory;
    let vs = StiVs::from_config(&c).unwrap();
    let value = passing_sample();
    let ctx = CallContext::at(SIGNED_AT);
    let look = vs.with_own_replay(None);
    assert!(look.verifier().replay_guard().is_none());
    for _ in 0..3 {
        let r = look.verify_blocking(&value, &ctx);
        assert!(r.passed(), "{r:?}");
    }
    // The service's store never saw the looks: its first call passes, the
    // next (no Call-ID: another call) is a replay.
    assert!(vs.verify_blocking(&value, &ctx).passed());
    assert_eq!(reason(&vs.verify_blocking(&value, &ctx)), Some("replay"));
    // Looks still pass, and still record nothing.
    assert!(look.verify_blocking(&value, &ctx).passed());
    // A store of its own: a replay within it, whatever the service saw.
    let own = vs.with_own_replay(Some(Arc::new(ReplayStore::new(120, 1000))));
    assert!(own.verify_blocking(&value, &ctx).passed());
    assert_eq!(reason(&own.verify_blocking(&value, &ctx)), Some("replay"));
    // Same anchors and chain as the service.
    assert_eq!(
        own.verifier().anchors().len(),
        vs.verifier().anchors().len()
    );
    assert!(own.pinned_chain().is_some());
}
