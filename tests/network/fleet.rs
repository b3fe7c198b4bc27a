//! A fleet of `shaken serve` nodes (and `shaken verify --batch`) sharing a
//! real `redis-server` started here on loopback: replay detection across
//! nodes, one certificate fetch for the fleet (counted by the loopback x5u
//! server), Redis killed, restarted and slowed under both failure policies,
//! and the errors at start. Skipped loudly without `redis-server` unless
//! `SHAKEN_REQUIRE_REDIS` is set. No assertion is timed: the slow-Redis
//! test proves the bound by its outcome (a call that waited would pass).

use crate::serve::{get, post, verification_request, Lab, Serve, DEST, NOW, ORIG};
use crate::support::bin;
use crate::support::http::{Reply, Server};
use crate::support::redis_server::RedisServer;
use serde_json::Value;
use std::time::{Duration, Instant};

fn origid(n: u32) -> String {
    format!("de305d54-75b4-431b-adb2-eb6b9e54{n:04}")
}

/// A node fetching x5u from loopback, sharing through `redis`.
fn node(lab: &Lab, redis: &str, extra: &[&str]) -> Serve {
    let mut args = vec![
        "--trust-anchors",
        &lab.path("root.pem"),
        "--allow-http-x5u",
        "--allow-private-x5u",
        "--redis",
        redis,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Serve::start(&refs)
}

/// Each request is another call (its own `time`, within the freshness
/// window): the same PASSporT sent again is then a replay, not the
/// idempotent retry of one call (same identity, from, to and time).
fn verify_raw(s: &Serve, identity: &str) -> crate::serve::Resp {
    static CALL: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    let time = NOW + CALL.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 30;
    post(
        s.addr,
        "/stir/v1/verification",
        &verification_request(identity, time).to_string(),
    )
}

fn verify(s: &Serve, identity: &str) -> Value {
    let r = verify_raw(s, identity);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["verificationResponse"].clone()
}

fn metric(s: &Serve, name: &str) -> u64 {
    let body = get(s.addr, "/metrics").body;
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{body}"))
}

fn passed(v: &Value) -> bool {
    v["verstat"] == "TN-Validation-Passed"
}

/// Poll (bounded) until `f` holds.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_nodes_racing_let_one_call_through_and_fetch_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let lab = Lab::new();
    // Slow enough that both nodes miss locally while the first fetches.
    let x5u = Server::always(Reply::Delayed(
        Duration::from_millis(300),
        Box::new(Reply::Ok(lab.pki.leaf_chain_pem().into_bytes())),
    ));
    let url = x5u.url("/sp.pem");
    let a = node(&lab, &redis.url(), &[]);
    let b = node(&lab, &redis.url(), &[]);
    let id = lab.identity(&url, NOW, &origid(1));
    let (va, vb) = std::thread::scope(|s| {
        let ta = s.spawn(|| verify(&a, &id));
        let tb = s.spawn(|| verify(&b, &id));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    let results = [&va, &vb];
    assert_eq!(results.iter().filter(|v| passed(v)).count(), 1, "{va} {vb}");
    let replayed = results.iter().find(|v| !passed(v)).unwrap();
    assert_eq!(replayed["reasoncode"], 438, "{replayed}");
    assert_eq!(replayed["reasonid"], "replay", "{replayed}");
    assert_eq!(
        x5u.hits("/sp.pem"),
        1,
        "the fleet fetched the certificate once"
    );
    assert_eq!(
        metric(&a, "shaken_x5u_cache_fetches_total") + metric(&b, "shaken_x5u_cache_fetches_total"),
        1
    );
    // The keys carry the prefix.
    assert_eq!(redis.keys("shaken:replay:*").len(), 1);
    assert_eq!(redis.keys("shaken:x5u:*").len(), 1);
}

#[test]
fn three_nodes_share_replay_and_certificates() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let lab = Lab::new();
    let x5u = Server::always(Reply::Ok(lab.pki.leaf_chain_pem().into_bytes()));
    let url = x5u.url("/sp.pem");
    let nodes: Vec<Serve> = (0..3)
        .map(|_| node(&lab, &redis.url(), &["--redis-prefix", "fleet-a:"]))
        .collect();
    for (i, n) in nodes.iter().enumerate() {
        let id = lab.identity(&url, NOW, &origid(10 + i as u32));
        assert!(passed(&verify(n, &id)), "node {i}");
        // The same PASSporT replayed to each other node.
        for (j, m) in nodes.iter().enumerate().filter(|(j, _)| *j != i) {
            let v = verify(m, &id);
            assert_eq!(v["reasonid"], "replay", "node {i} -> {j}: {v}");
        }
    }
    assert_eq!(x5u.hits("/sp.pem"), 1, "one fetch for the fleet");
    let fetches: u64 = nodes
        .iter()
        .map(|n| metric(n, "shaken_x5u_cache_fetches_total"))
        .sum();
    assert_eq!(fetches, 1);
    assert!(metric(&nodes[1], "shaken_redis_shared_hits_total") >= 1);
    assert_eq!(metric(&nodes[2], "shaken_redis_up"), 1);
    assert_eq!(redis.keys("fleet-a:replay:*").len(), 3);
    // A hot signer costs no Redis round trip for the certificate.
    let before = metric(&nodes[0], "shaken_redis_commands_total");
    assert!(passed(&verify(
        &nodes[0],
        &lab.identity(&url, NOW, &origid(20))
    )));
    assert_eq!(
        metric(&nodes[0], "shaken_redis_commands_total"),
        before + 1,
        "only the replay key"
    );
    // The service awaits its replay checks (once its runtime's connection
    // is made) rather than blocking a worker on them.
    eventually("replay checks awaited", || {
        let _ = verify(&nodes[0], &lab.identity(&url, NOW, &origid(21)));
        metric(&nodes[0], "shaken_redis_replay_awaited_total") >= 1
    });
}

#[test]
fn batch_and_serve_share_replay() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let lab = Lab::new();
    let x5u = Server::always(Reply::Ok(lab.pki.leaf_chain_pem().into_bytes()));
    let url = x5u.url("/sp.pem");
    let srv = node(&lab, &redis.url(), &[]);
    let seen = lab.identity(&url, NOW, &origid(30));
    assert!(passed(&verify(&srv, &seen)));
    let fresh = lab.identity(&url, NOW, &origid(31));
    let input = [&seen, &fresh]
        .iter()
        .map(|id| verification_request(id, NOW).to_string() + "\n")
        .collect::<String>();
    let path = lab.write("calls.jsonl", &input);
    let out = bin()
        .args([
            "verify",
            "--batch",
            &path,
            "--trust-anchors",
            &lab.path("root.pem"),
        ])
        .args([
            "--allow-http-x5u",
            "--allow-private-x5u",
            "--now",
            &NOW.to_string(),
        ])
        .args(["--redis", &redis.url()])
        .output()
        .unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lines[0]["reason"]["id"], "replay", "{}", lines[0]);
    assert_eq!(lines[1]["verstat"], "TN-Validation-Passed", "{}", lines[1]);
    // ... and the batch's PASSporT is now known to the server.
    assert_eq!(verify(&srv, &fresh)["reasonid"], "replay");
    // The certificate came from Redis: the batch did not fetch it.
    assert_eq!(x5u.hits("/sp.pem"), 1);
}

#[test]
fn redis_killed_and_restarted_open_policy() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let lab = Lab::new();
    let x5u = Server::always(Reply::Ok(lab.pki.leaf_chain_pem().into_bytes()));
    let url = x5u.url("/sp.pem");
    let srv = node(&lab, &redis.url(), &["--redis-failure", "open"]);
    assert!(passed(&verify(&srv, &lab.identity(&url, NOW, &origid(40)))));
    redis.kill();
    // Verified without cross-node replay detection, counted.
    let down = lab.identity(&url, NOW, &origid(41));
    assert!(passed(&verify(&srv, &down)));
    assert!(metric(&srv, "shaken_redis_replay_unchecked_total") >= 1);
    assert_eq!(metric(&srv, "shaken_redis_up"), 0);
    // A replay to the same node is still caught while Redis is down.
    assert_eq!(verify(&srv, &down)["reasonid"], "replay");
    // The CLI shows the warning in the result.
    let cli = bin()
        .args([
            "verify", &down, "--orig", ORIG, "--dest", DEST, "--format", "json",
        ])
        .args([
            "--trust-anchors",
            &lab.path("root.pem"),
            "--now",
            &NOW.to_string(),
        ])
        .args([
            "--allow-http-x5u",
            "--allow-private-x5u",
            "--redis",
            &redis.url(),
        ])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&cli.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&cli.stderr)));
    assert_eq!(r["verstat"], "TN-Validation-Passed", "{r}");
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("replay not checked across the fleet"),
        "{r}"
    );
    // Back: it reconnects by itself and shares again.
    redis.restart();
    let mut n = 50;
    eventually("the node uses Redis again", || {
        n += 1;
        verify(&srv, &lab.identity(&url, NOW, &origid(n)));
        metric(&srv, "shaken_redis_up") == 1
    });
    let again = lab.identity(&url, NOW, &origid(99));
    assert!(passed(&verify(&srv, &again)));
    assert!(!redis.keys("shaken:replay:*").is_empty());
    assert!(metric(&srv, "shaken_redis_connects_total") >= 1);
}

#[test]
fn redis_killed_and_restarted_closed_policy() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let lab = Lab::new();
    let x5u = Server::always(Reply::Ok(lab.pki.leaf_chain_pem().into_bytes()));
    let url = x5u.url("/sp.pem");
    let srv = node(&lab, &redis.url(), &["--redis-failure", "closed"]);
    assert!(passed(&verify(&srv, &lab.identity(&url, NOW, &origid(60)))));
    redis.kill();
    let r = verify_raw(&srv, &lab.identity(&url, NOW, &origid(61)));
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(
        r.json()["requestError"]["policyException"]["messageId"],
        "POL5000",
        "{}",
        r.body
    );
    assert!(metric(&srv, "shaken_redis_replay_refused_total") >= 1);
    redis.restart();
    let id = lab.identity(&url, NOW, &origid(62));
    eventually("calls pass again once Redis is back", || {
        verify_raw(&srv, &id).status == 200
    });
    // Passed exactly once: the retry after the outage is now a replay.
    assert_eq!(verify(&srv, &id)["reasonid"], "replay");
}

#[test]
fn slow_redis_is_bounded_by_the_timeout() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let lab = Lab::new();
    let x5u = Server::always(Reply::Ok(lab.pki.leaf_chain_pem().into_bytes()));
    let url = x5u.url("/sp.pem");
    let closed = node(
        &lab,
        &redis.url(),
        &["--redis-failure", "closed", "--redis-timeout-ms", "50"],
    );
    let open = node(&lab, &redis.url(), &["--redis-timeout-ms", "50"]);
    // Certificates cached on both nodes first.
    assert!(passed(&verify(
        &closed,
        &lab.identity(&url, NOW, &origid(70))
    )));
    assert!(passed(&verify(
        &open,
        &lab.identity(&url, NOW, &origid(71))
    )));
    let sleeper = redis.sleep_in_background(3.0);
    std::thread::sleep(Duration::from_millis(200));
    // Had it waited for Redis, this call would pass: it was cut at 50 ms.
    let r = verify_raw(&closed, &lab.identity(&url, NOW, &origid(72)));
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(passed(&verify(
        &open,
        &lab.identity(&url, NOW, &origid(73))
    )));
    assert!(metric(&open, "shaken_redis_timeouts_total") >= 1);
    sleeper.join().unwrap();
    assert!(passed(&verify(
        &closed,
        &lab.identity(&url, NOW, &origid(74))
    )));
}

#[test]
fn bad_url_and_wrong_password_fail_at_start() {
    let Some(redis) = RedisServer::start_with(&["--requirepass", "s3cret"]) else {
        return;
    };
    let lab = Lab::new();
    let start = |redis_args: &[&str]| {
        bin()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--trust-anchors",
                &lab.path("root.pem"),
            ])
            .args(redis_args)
            .output()
            .unwrap()
    };
    let o = start(&["--redis", "http://127.0.0.1:6379"]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("--redis") && e.contains("not a Redis URL"),
        "{e}"
    );

    let wrong = format!("redis://:wr0ng@127.0.0.1:{}", redis.port);
    let o = start(&["--redis", &wrong]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("refused the credentials"), "{e}");
    assert!(!e.contains("wr0ng"), "the password is never shown: {e}");

    let o = start(&["--redis", &redis.url()]);
    assert_eq!(o.status.code(), Some(2), "no password at all");
    assert!(String::from_utf8_lossy(&o.stderr).contains("refused the credentials"));

    // verify says the same at start.
    let o = bin()
        .args([
            "verify",
            "x",
            "--trust-anchors",
            &lab.path("root.pem"),
            "--redis",
            &wrong,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refused the credentials"));

    // The password file works.
    let pw = lab.write("redis.pw", "s3cret\n");
    let srv = node(&lab, &redis.url(), &["--redis-password-file", &pw]);
    assert_eq!(metric(&srv, "shaken_redis_up"), 1);
    let x5u = Server::always(Reply::Ok(lab.pki.leaf_chain_pem().into_bytes()));
    let id = lab.identity(&x5u.url("/sp.pem"), NOW, &origid(80));
    assert!(passed(&verify(&srv, &id)));
}

/// The replay key goes to Redis before the signature is checked (its answer
/// arrives meanwhile), so it covers the signature with `s` made low: a
/// forged copy sent first fails on its signature and does not block the
/// genuine PASSporT on another node; the genuine one replayed with the
/// malleated signature `(r, n-s)` is still a replay.
#[test]
fn a_forged_copy_first_does_not_block_the_genuine_call() {
    use shaken::b64;
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let lab = Lab::new();
    let x5u = Server::always(Reply::Ok(lab.pki.leaf_chain_pem().into_bytes()));
    let url = x5u.url("/sp.pem");
    let a = node(&lab, &redis.url(), &[]);
    let b = node(&lab, &redis.url(), &[]);
    let genuine = lab.identity(&url, NOW, &origid(40));
    let (token, params) = genuine.split_once(';').unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut raw = b64::decode(sig).unwrap();
    raw[50] ^= 0x55;
    let forged = format!("{input}.{};{params}", b64::encode(&raw));
    let v = verify(&a, &forged);
    assert_eq!(v["reasonid"], "signature-invalid", "{v}");
    let v = verify(&b, &genuine);
    assert!(passed(&v), "the genuine call after a forged copy: {v}");
    // (r, n-s): the same PASSporT with the other valid signature.
    let raw = b64::decode(sig).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&raw).unwrap();
    let (r, s) = sig.split_scalars();
    let flipped = p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
    let malleated = format!("{input}.{};{params}", b64::encode(&flipped.to_bytes()));
    assert_ne!(malleated, genuine);
    let v = verify(&a, &malleated);
    assert_eq!(v["reasonid"], "replay", "{v}");
}

/// Concurrent calls on one node share Redis pipelines (the awaited checks
/// of `serve` go out together): every call still gets its own answer.
/// Twelve PASSporTs, each sent twice at once as two calls: exactly one of
/// each pair passes and the other is a replay, whatever the batching.
#[test]
fn concurrent_checks_on_one_node_each_get_their_own_answer() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let lab = Lab::new();
    let x5u = Server::always(Reply::Ok(lab.pki.leaf_chain_pem().into_bytes()));
    let url = x5u.url("/sp.pem");
    let n = node(&lab, &redis.url(), &[]);
    // Until the service's own connection is made, checks run on the thread.
    eventually("replay checks awaited", || {
        let _ = verify(&n, &lab.identity(&url, NOW, &origid(60)));
        metric(&n, "shaken_redis_replay_awaited_total") >= 1
    });
    let ids: Vec<String> = (0..12)
        .map(|i| lab.identity(&url, NOW, &origid(100 + i)))
        .collect();
    let verdicts: Vec<(usize, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .enumerate()
            .flat_map(|(i, id)| [(i, id), (i, id)])
            .map(|(i, id)| {
                let n = &n;
                s.spawn(move || (i, verify(n, id)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for i in 0..ids.len() {
        let pair: Vec<&Value> = verdicts
            .iter()
            .filter(|(j, _)| *j == i)
            .map(|(_, v)| v)
            .collect();
        let passed_n = pair.iter().filter(|v| passed(v)).count();
        let replays = pair.iter().filter(|v| v["reasonid"] == "replay").count();
        assert_eq!((passed_n, replays), (1, 1), "PASSporT {i}: {pair:?}");
    }
    assert!(redis.keys("shaken:replay:*").len() >= 12);
}

/// Issue 21: a stranger's chains do not reach Redis. A node that fetched
/// a chain it does not vouch for (one to another root, a copy of the known
/// signer's public chain signed with another key) leaves at most a short
/// `U` marker without a body, so the other nodes do not wait on its claim;
/// the known signer's chain is shared once its call verified.
#[test]
fn a_strangers_chains_are_not_put_into_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let lab = Lab::new();
    let stranger = Lab::new();
    let x5u = Server::start();
    let known = x5u.route("/sp.pem", Reply::Ok(lab.pki.leaf_chain_pem().into_bytes()));
    let untrusted = x5u.route(
        "/untrusted.pem",
        Reply::Ok(stranger.pki.leaf_chain_pem().into_bytes()),
    );
    let copy = x5u.route(
        "/copy.pem",
        Reply::Ok(lab.pki.leaf_chain_pem().into_bytes()),
    );
    let a = node(&lab, &redis.url(), &[]);
    let b = node(&lab, &redis.url(), &[]);
    let v = verify(&a, &stranger.identity(&untrusted, NOW, &origid(50)));
    assert_eq!(v["reasonid"], "cert-untrusted", "{v}");
    let forged = stranger.identity(&copy, NOW, &origid(51));
    let v = verify(&a, &forged);
    assert_eq!(v["reasonid"], "signature-invalid", "{v}");
    assert!(passed(&verify(&a, &lab.identity(&known, NOW, &origid(52)))));
    let mut conn = redis.client(None);
    let mut bodies = vec![];
    for key in redis.keys("shaken:x5u:*") {
        let raw: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
        let text = String::from_utf8_lossy(&raw);
        let (head, rest) = text.split_once('\n').unwrap();
        match head.split(' ').next() {
            // A body fetched from a non-public address (this lab's loopback).
            Some("N") => bodies.push(head.rsplit(' ').next().unwrap().to_owned()),
            Some("U") => assert!(rest.is_empty(), "{text}"),
            _ => panic!("unexpected entry {text}"),
        }
    }
    assert_eq!(
        bodies,
        std::slice::from_ref(&known),
        "only the known signer's chain"
    );
    // The other node takes the known chain from Redis, and fetches the
    // stranger's itself instead of waiting on a's claim (a wait would end
    // in `fetch-timeout`, the service's budget being shorter than it).
    let v = verify(&b, &forged);
    assert_eq!(v["reasonid"], "signature-invalid", "{v}");
    assert!(passed(&verify(&b, &lab.identity(&known, NOW, &origid(54)))));
    assert_eq!(
        x5u.hits("/sp.pem"),
        1,
        "the known chain: once for the fleet"
    );
    assert_eq!(x5u.hits("/copy.pem"), 2, "the stranger's: by each node");
}
