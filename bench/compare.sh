#!/usr/bin/env bash
# Issue 21 in one run: the bare ES256 primitive of ring and aws-lc-rs side by
# side, shaken's pipelines on each backend against the faster one, two-core
# scaling, the REST service per core, a cold call, the replay store's memory,
# and OpenSSL as context. Every target is printed as PASS/FAIL.
#
#   bench/compare.sh [SECONDS]          (default 3; or SECONDS_PER=N)
#
# Environment (all optional):
#   SECONDS_PER=N  length of each throughput measurement, seconds (default 3)
#   REPEAT=N       runs per pipeline measurement; the median counts (default 3)
#   JOBS_ALL=N     "two cores" (default 2)
#   NO_BUILD=1     use the binaries already built (target/release, target/ring)
#   SKIP_RING=1    do not build or run the ring pipeline (the bare ring primitive still runs)
#   SKIP_SERVE=1, SKIP_COLD=1, SKIP_MEMORY=1   leave out those sections
#
# Ratios are per CPU second of the whole process (user + system time, which
# this shared machine disturbs far less than wall time), except the two-core
# scaling, which is wall time by definition. The denominators are the faster
# of ring and aws-lc-rs on the bare primitive, measured in this run. As
# context, examples/floor_verify measures the batch's own signatures bare and
# a minimal verifier that does only the work no JSON Lines verifier can skip:
# the ceiling for any verifier's ratio on this machine.
#
# Needs: a Rust toolchain (it builds first), /usr/bin/time, awk, taskset;
# openssl for the context line (optional).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER="${1:-${SECONDS_PER:-3}}"
REPEAT="${REPEAT:-3}"
JOBS_ALL="${JOBS_ALL:-2}"
for v in SECONDS_PER REPEAT JOBS_ALL; do
    case "${!v}" in '' | *[!0-9]* | 0) echo "compare: $v must be a positive whole number" >&2; exit 2 ;; esac
done
for tool in /usr/bin/time awk; do
    command -v "$tool" >/dev/null 2>&1 || { echo "compare: $tool is required" >&2; exit 2; }
done

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
RING_TARGET="$TARGET/ring"
if [ -z "${NO_BUILD:-}" ]; then
    echo "== building (release: default aws-lc-rs, examples; ring in $RING_TARGET)"
    cargo build --release --quiet
    cargo build --release --quiet --example raw_es256
    for ex in cold_call replay_memory serve_load floor_verify; do
        if [ -f "examples/$ex.rs" ]; then cargo build --release --quiet --example "$ex"; fi
    done
    if [ -z "${SKIP_RING:-}" ]; then
        cargo build --release --quiet --no-default-features --features ring --target-dir "$RING_TARGET"
    fi
fi
SHAKEN="$TARGET/release/shaken"
SHAKEN_RING="$RING_TARGET/release/shaken"
RAW="$TARGET/release/examples/raw_es256"
CERTS="$ROOT/certs"
NOW=1800000000
X5U=https://cr.example.net/sp.pem
ORIG=12155550121
DEST=12125550143

# Every binary the run needs is checked before anything is measured, so a
# missing build stops the run at once instead of after minutes of timing.
NEEDED=("$SHAKEN" "$RAW")
if [ -z "${SKIP_RING:-}" ]; then NEEDED+=("$SHAKEN_RING"); fi
for bin in "${NEEDED[@]}"; do
    if [ ! -x "$bin" ]; then
        hint="run without NO_BUILD=1 to build it"
        if [ "$bin" = "$SHAKEN_RING" ]; then hint="$hint, or set SKIP_RING=1 to leave the ring pipeline out"; fi
        echo "compare: $bin is missing: $hint" >&2
        exit 2
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shaken-compare.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- helpers -----------------------------------------------------------------
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
fmt0() { awk -v x="$1" 'BEGIN {printf "%.0f", x}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a != "" && b > 0) printf "%.3f", a/b; else print "n/a"}'; }
verdict() {
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        if (v == "n/a" || v == "") { print "FAIL"; exit }
        ok = (op == ">=") ? (v >= l) : (op == "<") ? (v < l) : (op == "<=") ? (v <= l) : (v == l)
        print ok ? "PASS" : "FAIL" }'
}
SUMMARY=()
target() { # NAME VALUE OP LIMIT UNIT
    SUMMARY+=("$(printf '%-58s %10s %-2s %-8s %s' "$1" "$2$5" "$3" "$4$5" "$(verdict "$2" "$3" "$4")")")
}

# measure LINES CMD... : run once; prints "per_cpu_second per_wall_second"
measure() {
    local lines=$1
    shift
    local rc=0
    /usr/bin/time -f '%U %S %e' -o "$WORK/time" "$@" >/dev/null 2>"$WORK/stderr" || rc=$?
    if [ "$rc" != 0 ]; then
        echo "compare: '$*' exited with $rc:" >&2
        tail -n 5 "$WORK/stderr" >&2
        exit 1
    fi
    tail -n 1 "$WORK/time" | awk -v n="$lines" '{cpu = $1 + $2; printf "%.1f %.1f\n", (cpu > 0 ? n / cpu : 0), ($3 > 0 ? n / $3 : 0)}'
}

openssl_speed() { # -> "sign/s verify/s"
    if command -v openssl >/dev/null 2>&1; then
        openssl speed -seconds "$SECONDS_PER" ecdsap256 2>/dev/null | awk '/ecdsa \(nistp256\)/ {print $(NF-1), $NF}'
    else
        echo "0 0"
    fi
}

# --- machine -----------------------------------------------------------------
echo "== machine"
echo "cpu:     $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) cores"
echo "kernel:  $(uname -sr)"
echo "openssl: $(openssl version 2>/dev/null || echo 'not installed')"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
echo "settings: SECONDS_PER=$SECONDS_PER REPEAT=$REPEAT JOBS_ALL=$JOBS_ALL"

# --- the limit: bare primitives, both backends, one run ----------------------
echo
echo "== bare ES256, one thread, per CPU second (examples/raw_es256: ring and aws-lc-rs interleaved)"
read -r OSSL_SIGN1 OSSL_VERIFY1 < <(openssl_speed)
RAW_OUT=$("$RAW" "$CERTS/sp.key.pem" "$((SECONDS_PER * 2))" 6)
echo "$RAW_OUT" | sed '$d' | sed '$d' | sed '$d'
FAST_SIGN=$(awk '/^sign\/s/ {print $2}' <<<"$RAW_OUT")
FAST_VERIFY=$(awk '/^verify\/s/ {print $2}' <<<"$RAW_OUT")
FAST_DISTINCT=$(awk '/^distinct-verify\/s/ {print $2}' <<<"$RAW_OUT")
FASTER=$(sed -n 's/^faster: //p' <<<"$RAW_OUT")
echo "the faster bare backend: sign/s $FAST_SIGN  verify/s $FAST_VERIFY  distinct verify/s $FAST_DISTINCT ($FASTER)"
echo "one signature repeated / distinct signatures, faster of each: $(ratio "$FAST_VERIFY" "$FAST_DISTINCT")x" \
    "(variable-time verification: repeating one signature trains the branch predictors)"

# --- inputs (not timed) ------------------------------------------------------
VERIFY_LINES=$((SECONDS_PER * 24000))
SIGN_LINES=$((SECONDS_PER * 70000))
make_requests() { # N
    awk -v n="$1" -v o="$ORIG" -v d="$DEST" -v t="$NOW" 'BEGIN {
        for (i = 0; i < n; i++)
            printf "{\"attest\":\"A\",\"dest\":{\"tn\":[\"%s\"]},\"iat\":%d,\"orig\":{\"tn\":\"%s\"},\"origid\":\"%08x-0000-4000-8000-%012x\"}\n", d, t, o, i, i
    }'
}
to_verify_requests() {
    awk -v o="$ORIG" -v d="$DEST" -v t="$NOW" \
        '{print "{\"from\":{\"tn\":\"" o "\"},\"to\":{\"tn\":[\"" d "\"]},\"time\":" t "," substr($0, 2)}'
}
make_requests "$SIGN_LINES" >"$WORK/sign.jsonl"
head -n "$VERIFY_LINES" "$WORK/sign.jsonl" |
    "$SHAKEN" sign --key "$CERTS/sp.key.pem" --x5u "$X5U" --batch - 2>/dev/null |
    to_verify_requests >"$WORK/verify.jsonl"
echo
echo "== inputs: $SIGN_LINES signing requests (distinct origid), $VERIFY_LINES distinct signed verification requests"
VERIFY_ARGS=(verify --cert "$CERTS/sp-chain.pem" --trust-anchors "$CERTS/root.pem" --now "$NOW")
SIGN_ARGS=(sign --key "$CERTS/sp.key.pem" --x5u "$X5U")

# --- pipelines per CPU second ------------------------------------------------
BACKENDS=(aws-lc-rs)
declare -A BIN=([aws-lc-rs]="$SHAKEN" [ring]="$SHAKEN_RING")
if [ -z "${SKIP_RING:-}" ]; then
    BACKENDS+=(ring)
fi
echo
echo "== pipelines, --jobs 1 (median of $REPEAT interleaved runs; verify: cached chain, replay ON, every line distinct)"
declare -A V1 S1 V1W S1W
for b in "${BACKENDS[@]}"; do : >"$WORK/v.$b"; : >"$WORK/s.$b"; done
for ((r = 0; r < REPEAT; r++)); do
    for b in "${BACKENDS[@]}"; do
        measure "$VERIFY_LINES" "${BIN[$b]}" "${VERIFY_ARGS[@]}" --batch "$WORK/verify.jsonl" --jobs 1 >>"$WORK/v.$b"
        measure "$SIGN_LINES" "${BIN[$b]}" "${SIGN_ARGS[@]}" --batch "$WORK/sign.jsonl" --jobs 1 >>"$WORK/s.$b"
    done
done
# The spread of the runs (per CPU second) beside the median: on a shared host
# it is often wider than the gap to a target.
spread() { awk '{print $1}' "$1" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f-%.0f", lo, hi}'; }
printf '%-34s %14s %14s %12s  %s\n' "run" "lines/CPU-s" "lines/s wall" "/ faster bare" "runs (lines/CPU-s)"
for b in "${BACKENDS[@]}"; do
    V1[$b]=$(awk '{print $1}' "$WORK/v.$b" | median)
    V1W[$b]=$(awk '{print $2}' "$WORK/v.$b" | median)
    S1[$b]=$(awk '{print $1}' "$WORK/s.$b" | median)
    S1W[$b]=$(awk '{print $2}' "$WORK/s.$b" | median)
    printf '%-34s %14s %14s %12s  %s\n' "verify --batch --jobs 1 ($b)" "$(fmt0 "${V1[$b]}")" "$(fmt0 "${V1W[$b]}")" "$(ratio "${V1[$b]}" "$FAST_VERIFY")" "$(spread "$WORK/v.$b")"
    printf '%-34s %14s %14s %12s  %s\n' "sign --batch --jobs 1 ($b)" "$(fmt0 "${S1[$b]}")" "$(fmt0 "${S1W[$b]}")" "$(ratio "${S1[$b]}" "$FAST_SIGN")" "$(spread "$WORK/s.$b")"
done
target "verify --batch --jobs 1 / faster bare verify (per CPU-s)" "$(ratio "${V1[aws-lc-rs]}" "$FAST_VERIFY")" ">=" 0.93 "x"
CONTEXT=("$(printf '%-58s %10s' "verify --batch --jobs 1 / faster bare DISTINCT verify" "$(ratio "${V1[aws-lc-rs]}" "$FAST_DISTINCT")x")")
echo "verify --batch --jobs 1 (aws-lc-rs) / faster bare verify of distinct signatures: $(ratio "${V1[aws-lc-rs]}" "$FAST_DISTINCT")x" \
    "(context: every line of a batch carries a new signature)"
target "sign --batch --jobs 1 / faster bare sign (per CPU-s)" "$(ratio "${S1[aws-lc-rs]}" "$FAST_SIGN")" ">=" 0.90 "x"
if [ -z "${SKIP_RING:-}" ]; then
    echo "default backend check: aws-lc-rs / ring pipeline, verify $(ratio "${V1[aws-lc-rs]}" "${V1[ring]}")x, sign $(ratio "${S1[aws-lc-rs]}" "${S1[ring]}")x"
fi

# --- the floor: what any JSON Lines verifier must spend ---------------------
# examples/floor_verify: the batch's own signatures verified bare, against a
# verifier that does only the unavoidable work (JSON in, base64, header and
# claims JSON, ES256, one JSON line out), block by block in one process.
FLOOR_BIN="$TARGET/release/examples/floor_verify"
if [ -x "$FLOOR_BIN" ]; then
    echo
    echo "== the floor (examples/floor_verify, aws-lc-rs, on $VERIFY_LINES lines of this run's input)"
    # Context only: a failure is reported, and the run goes on.
    FLOOR_OUT=$("$FLOOR_BIN" "$CERTS/sp.key.pem" "$WORK/verify.jsonl" 1 2>"$WORK/floor.err") ||
        { echo "examples/floor_verify failed: $(grep -m 1 -A 1 panicked "$WORK/floor.err" | tr '\n' ' ')"; FLOOR_OUT=""; }
    echo "$FLOOR_OUT" | sed '$d' | sed '$d'
    BARE_LINES=$(awk '/^bare-lines\/s/ {print $2}' <<<"$FLOOR_OUT")
    FLOOR_LINES=$(awk '/^floor-lines\/s/ {print $2}' <<<"$FLOOR_OUT")
    CONTEXT+=("$(printf '%-58s %10s' "bare verify of the batch's own signatures / faster bare" "$(ratio "$BARE_LINES" "$FAST_VERIFY")x")")
    CONTEXT+=("$(printf '%-58s %10s' "the floor (minimal verifier) / faster bare verify" "$(ratio "$FLOOR_LINES" "$FAST_VERIFY")x")")
    CONTEXT+=("$(printf '%-58s %10s' "verify --batch --jobs 1 / bare verify of its signatures" "$(ratio "${V1[aws-lc-rs]}" "$BARE_LINES")x")")
    echo "the floor reaches $(ratio "$FLOOR_LINES" "$FAST_VERIFY")x of the faster bare verify (the verify target's denominator);" \
        "verify --batch reaches $(ratio "${V1[aws-lc-rs]}" "$FLOOR_LINES")x of the floor"
fi

# --- two cores ---------------------------------------------------------------
echo
echo "== scaling: --jobs $JOBS_ALL against --jobs 1, wall time (median of $REPEAT; read the load line)"
: >"$WORK/vn"; : >"$WORK/sn"; : >"$WORK/v1w"; : >"$WORK/s1w"
for ((r = 0; r < REPEAT; r++)); do
    measure "$VERIFY_LINES" "$SHAKEN" "${VERIFY_ARGS[@]}" --batch "$WORK/verify.jsonl" --jobs 1 | awk '{print $2}' >>"$WORK/v1w"
    measure "$VERIFY_LINES" "$SHAKEN" "${VERIFY_ARGS[@]}" --batch "$WORK/verify.jsonl" --jobs "$JOBS_ALL" | awk '{print $2}' >>"$WORK/vn"
    measure "$SIGN_LINES" "$SHAKEN" "${SIGN_ARGS[@]}" --batch "$WORK/sign.jsonl" --jobs 1 | awk '{print $2}' >>"$WORK/s1w"
    measure "$SIGN_LINES" "$SHAKEN" "${SIGN_ARGS[@]}" --batch "$WORK/sign.jsonl" --jobs "$JOBS_ALL" | awk '{print $2}' >>"$WORK/sn"
done
VW1=$(median <"$WORK/v1w"); VWN=$(median <"$WORK/vn"); SW1=$(median <"$WORK/s1w"); SWN=$(median <"$WORK/sn")
echo "verify: $(fmt0 "$VW1") -> $(fmt0 "$VWN") lines/s ($(ratio "$VWN" "$VW1")x); sign: $(fmt0 "$SW1") -> $(fmt0 "$SWN") lines/s ($(ratio "$SWN" "$SW1")x)"
target "verify --batch, $JOBS_ALL cores / 1 core (wall)" "$(ratio "$VWN" "$VW1")" ">=" 1.85 "x"
target "sign --batch, $JOBS_ALL cores / 1 core (wall)" "$(ratio "$SWN" "$SW1")" ">=" 1.85 "x"

# --- the REST service --------------------------------------------------------
result() { sed -n "s/^RESULT $1 //p" "$2" | tail -n 1; }
if [ -z "${SKIP_SERVE:-}" ]; then
    echo
    echo "== the REST service (bench/serve-compare.sh)"
    if [ -x bench/serve-compare.sh ]; then
        NO_BUILD=1 SHAKEN="$SHAKEN" SECONDS_PER="$SECONDS_PER" bench/serve-compare.sh | tee "$WORK/serve.out"
        target "serve per core / verify --batch per core (CPU)" "$(result serve_per_core_vs_batch "$WORK/serve.out")" ">=" 0.75 "x"
        target "serve p99 at half its maximum rate" "$(result serve_p99_ms_at_half_max "$WORK/serve.out")" "<" 2 " ms"
    else
        echo "bench/serve-compare.sh is missing"
        target "serve per core / verify --batch per core (CPU)" "n/a" ">=" 0.75 "x"
    fi
fi

# --- a cold call -------------------------------------------------------------
if [ -z "${SKIP_COLD:-}" ]; then
    echo
    echo "== a cold call (examples/cold_call: loopback x5u)"
    if [ -x "$TARGET/release/examples/cold_call" ]; then
        "$TARGET/release/examples/cold_call" | tee "$WORK/cold.out"
        target "cold call / (warm call + fetch)" "$(result cold_vs_warm_plus_fetch "$WORK/cold.out")" "<=" 1.5 "x"
        echo "(cold - fetch) / warm: $(result cold_minus_fetch_vs_warm "$WORK/cold.out")x (chain parse and path validation; context)"
    else
        echo "examples/cold_call is not built"
        target "cold call / (warm call + fetch)" "n/a" "<=" 1.5 "x"
    fi
fi

# --- the replay store's memory -----------------------------------------------
if [ -z "${SKIP_MEMORY:-}" ]; then
    echo
    echo "== the replay store at 10,000 calls/s, 60 s window (examples/replay_memory)"
    if [ -x "$TARGET/release/examples/replay_memory" ]; then
        "$TARGET/release/examples/replay_memory" | tee "$WORK/mem.out"
        target "replay store peak RSS, 10,000 calls/s, 60 s window" "$(result replay_store_peak_rss_mib "$WORK/mem.out")" "<" 128 " MiB"
        target "replays of the window missed by the store (capacity)" "$(result replay_store_missed_replays "$WORK/mem.out")" "==" 0 ""
    else
        echo "examples/replay_memory is not built"
        target "replay store peak RSS, 10,000 calls/s, 60 s window" "n/a" "<" 128 " MiB"
    fi
fi

# --- peers, as context -------------------------------------------------------
read -r OSSL_SIGN2 OSSL_VERIFY2 < <(openssl_speed)
OSSL_SIGN=$(awk -v a="$OSSL_SIGN1" -v b="$OSSL_SIGN2" 'BEGIN {print (a > b) ? a : b}')
OSSL_VERIFY=$(awk -v a="$OSSL_VERIFY1" -v b="$OSSL_VERIFY2" 'BEGIN {print (a > b) ? a : b}')
echo
echo "== peers (context, not targets)"
echo "openssl speed ecdsap256 (higher of start and end, wall time): sign/s $(fmt0 "$OSSL_SIGN")  verify/s $(fmt0 "$OSSL_VERIFY")"
echo "  shaken verify --batch --jobs 1 per CPU-s / openssl verify: $(ratio "${V1[aws-lc-rs]}" "$OSSL_VERIFY")x;" \
    "sign: $(ratio "${S1[aws-lc-rs]}" "$OSSL_SIGN")x"
echo "secsipid (Go libsecsipid in Kamailio, recorded in BENCHMARKS.md, issue 19; not re-measured here):"
echo "  132 us p50 / 266 us p99 per secsipid_check_identity at 200 calls/s (signature and iat only)"

# --- verdict -----------------------------------------------------------------
echo
echo "== issue 21 targets"
printf '%-58s %10s %-2s %-8s %s\n' "target" "measured" "" "limit" "result"
printf '%s\n' "${SUMMARY[@]}"
echo
echo "context, not a target of the issue (the pipeline against the primitive on inputs like its own):"
printf '%s\n' "${CONTEXT[@]}"
