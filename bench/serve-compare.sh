#!/usr/bin/env bash
# Issue 21: the REST service per core against `shaken verify --batch` per
# core, and its p99 latency at half of its maximum rate, replay detection on.
#
#   bench/serve-compare.sh [SECONDS]        (default 3; or SECONDS_PER=N)
#
# Environment (all optional):
#   SECONDS_PER=N    length of each load step, seconds (default 3)
#   ROUNDS=N         rounds of the whole measurement; medians are reported (default 3)
#   CONNECTIONS=N    keep-alive connections of the load generator (default 32)
#   SERVER_CORE=N    the core `shaken serve` and the batch run are pinned to (default 0)
#   CLIENT_CORE=N    the core of the load generator (default 1)
#   SERVE_RUST_LOG=F the server's RUST_LOG (default info, the service's own
#                    default: one log line per request, written to a file)
#   SPIN=0|1         whether the closed-loop load generator polls instead of
#                    sleeping between answers (examples/serve_load.rs --spin; on
#                    loopback a sleeping client makes every answer pay, on the
#                    server's CPU time, for waking the client's core). Default 1.
#                    The open loop always polls (a sleeping client sends late).
#   NO_BUILD=1       skip `cargo build --release` (use the binaries in the target dir)
#   SHAKEN_BIN=PATH  the shaken binary to measure (default the release build;
#                    with NO_BUILD=1, an A/B of two builds of the server)
#
# Each round, with lab certificates from certs/:
#  (a) closed loop: CONNECTIONS connections send as fast as the server answers,
#      for SECONDS_PER seconds: the server's maximum rate, and its CPU time per
#      request (utime + stime of the server process, /proc/PID/stat, around
#      the measured window);
#  (b) open loop at half that rate: requests are due at fixed times and each
#      latency is counted from its due time (no coordinated omission): p99;
#  (c) `shaken verify --batch FILE --jobs 1` on the PASSporTs of (a), pinned to
#      the server's core: its user + system time per line.
# Every request is a new PASSporT (signed by `shaken sign --batch` with iat =
# now, so the server's clock accepts it; replay detection on, the default) and
# every answer must be TN-Validation-Passed. The load generator is
# examples/serve_load.rs (`--url` mode); wrk is not needed.
#
# Each open loop also shows the CPU time every other thread on the machine
# ran meanwhile, and the biggest of them (kernel threads such as kdamond.0,
# kworker, rcu_preempt; other processes): with both cores busy, such a
# burst of a few milliseconds takes the server's or the generator's core
# and lands in the tail (BENCHMARKS.md, issue 21, sixth pass). Beside it,
# the server's own time per request in that loop, from its request log
# (latency_us; needs the default SERVE_RUST_LOG=info).
#
# Prints readable output, then
#   RESULT serve_per_core_vs_batch R      (batch CPU per line / serve CPU per request)
#   RESULT serve_p99_ms_at_half_max MS
# Ratios of CPU time, not wall time: this machine is shared, and the other
# core's load moves wall-clock rates far more than CPU per request.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER="${1:-${SECONDS_PER:-3}}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-32}"
SERVER_CORE="${SERVER_CORE:-0}"
CLIENT_CORE="${CLIENT_CORE:-1}"
SERVE_RUST_LOG="${SERVE_RUST_LOG:-info}"
SPIN="${SPIN:-1}"
case "$SPIN" in 0) SPIN_ARGS=() ;; 1) SPIN_ARGS=(--spin) ;; *) echo "serve-compare: SPIN must be 0 or 1" >&2; exit 2 ;; esac
for v in SECONDS_PER ROUNDS CONNECTIONS; do
    case "${!v}" in '' | *[!0-9]* | 0) echo "serve-compare: $v must be a positive whole number" >&2; exit 2 ;; esac
done
for v in SERVER_CORE CLIENT_CORE; do
    case "${!v}" in '' | *[!0-9]*) echo "serve-compare: $v must be a core number" >&2; exit 2 ;; esac
done
[ "$SECONDS_PER" -le 40 ] || { echo "serve-compare: SECONDS_PER is capped at 40 (the PASSporTs, signed before each step, must stay inside the 60 s freshness window)" >&2; exit 2; }
[ "$SERVER_CORE" != "$CLIENT_CORE" ] || { echo "serve-compare: SERVER_CORE and CLIENT_CORE must differ" >&2; exit 2; }
for tool in taskset /usr/bin/time awk curl sync; do
    command -v "$tool" >/dev/null 2>&1 || { echo "serve-compare: $tool is required" >&2; exit 2; }
done
for core in "$SERVER_CORE" "$CLIENT_CORE"; do
    taskset -c "$core" true 2>/dev/null || { echo "serve-compare: cannot pin to core $core (this machine has $(nproc) cores; set SERVER_CORE/CLIENT_CORE)" >&2; exit 2; }
done

if [ -z "${NO_BUILD:-}" ]; then
    echo "== building (cargo build --release, shaken and the serve_load example)"
    cargo build --release --quiet --bin shaken --example serve_load || { echo "serve-compare: the build failed" >&2; exit 1; }
fi
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SHAKEN="${SHAKEN_BIN:-$TARGET/release/shaken}"
LOAD="$TARGET/release/examples/serve_load"
for bin in "$SHAKEN" "$LOAD"; do
    [ -x "$bin" ] || { echo "serve-compare: $bin not found (build it, or unset NO_BUILD)" >&2; exit 1; }
done
CERTS="$ROOT/certs"
X5U=https://cr.example.net/sp.pem
ORIG=12155550121
DEST=12125550143

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shaken-serve-compare.XXXXXX")
SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT

die() {
    echo "serve-compare: $*" >&2
    exit 1
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# field KEY FILE: the value of a `key value` line of the load generator
field() { awk -v k="$1" '$1 == k {print $2; found=1} END {if (!found) print ""}' "$2"; }

# sign_requests N OUT: N verification requests for distinct PASSporTs signed
# now (distinct origid per line), as `verify --batch` reads them. Prints the
# iat used.
sign_requests() {
    local n=$1 out=$2 now
    now=$(date +%s)
    awk -v n="$n" -v o="$ORIG" -v d="$DEST" -v t="$now" -v r="$RANDOM$RANDOM" 'BEGIN {
        for (i = 0; i < n; i++)
            printf "{\"attest\":\"A\",\"dest\":{\"tn\":[\"%s\"]},\"iat\":%d,\"orig\":{\"tn\":\"%s\"},\"origid\":\"%08x-%04x-4000-8000-%012x\"}\n", d, t, o, i, r % 65536, i
    }' >"$WORK/sign.jsonl"
    "$SHAKEN" sign --key "$CERTS/sp.key.pem" --x5u "$X5U" --batch "$WORK/sign.jsonl" 2>"$WORK/sign.err" |
        awk -v o="$ORIG" -v d="$DEST" -v t="$now" \
            '{print "{\"from\":{\"tn\":\"" o "\"},\"to\":{\"tn\":[\"" d "\"]},\"time\":" t "," substr($0, 2)}' >"$out" ||
        die "shaken sign --batch failed: $(head -c 600 "$WORK/sign.err")"
    [ "$(wc -l <"$out")" -eq "$n" ] || die "shaken sign --batch signed $(wc -l <"$out") of $n requests: $(head -c 600 "$WORK/sign.err")"
    echo "$now"
}

start_server() {
    # A new file: the last round's "listening on" line must not be read.
    rm -f "$WORK/server.log"
    RUST_LOG="$SERVE_RUST_LOG" taskset -c "$SERVER_CORE" "$SHAKEN" serve --listen 127.0.0.1:0 \
        --cert "$CERTS/sp-chain.pem" --trust-anchors "$CERTS/root.pem" 2>"$WORK/server.log" &
    SERVER_PID=$!
    ADDR=""
    for _ in $(seq 1 200); do
        ADDR=$(sed -n 's/^listening on //p' "$WORK/server.log" | head -n 1)
        [ -n "$ADDR" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    [ -n "$ADDR" ] || die "shaken serve did not start: $(head -c 2000 "$WORK/server.log")"
    curl -fsS "http://$ADDR/health/ready" >/dev/null || die "shaken serve is not ready: $(curl -sS "http://$ADDR/health/ready" 2>&1 | head -c 600)"
}

# drive OUT [--rate R]: the load generator on the client core
drive() {
    local out=$1 bodies=$2
    shift 2
    local rc=0
    taskset -c "$CLIENT_CORE" "$LOAD" --url "http://$ADDR/stir/v1/verification" --bodies "$bodies" \
        --connections "$CONNECTIONS" --seconds "$SECONDS_PER" --server-pid "$SERVER_PID" ${SPIN_ARGS[@]+"${SPIN_ARGS[@]}"} "$@" \
        >"$out" 2>"$out.err" || rc=$?
    [ "$rc" = 0 ] || die "the load generator exited with $rc: $(head -c 1000 "$out.err")"
    [ "$(field failed "$out")" = 0 ] || die "$(field failed "$out") of $(field requests "$out") requests did not pass: $(head -c 1000 "$out.err")"
    [ "$(field requests "$out")" -gt 0 ] || die "the load generator sent no request"
}

echo "== machine"
echo "cpu:      $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) cores"
echo "kernel:   $(uname -sr)"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
echo "settings: SECONDS_PER=$SECONDS_PER ROUNDS=$ROUNDS CONNECTIONS=$CONNECTIONS SERVER_CORE=$SERVER_CORE CLIENT_CORE=$CLIENT_CORE SERVE_RUST_LOG=$SERVE_RUST_LOG SPIN=$SPIN"
echo "server:   taskset -c $SERVER_CORE shaken serve --cert certs/sp-chain.pem --trust-anchors certs/root.pem (replay on)"
echo "client:   taskset -c $CLIENT_CORE examples/serve_load --url ... --connections $CONNECTIONS${SPIN_ARGS[*]+ ${SPIN_ARGS[*]}}"

CLOSED_LINES=$((SECONDS_PER * 30000 + 2 * CONNECTIONS))
RATIOS=()
P99S=()
OTHERS=()
for ((round = 1; round <= ROUNDS; round++)); do
    echo
    echo "== round $round of $ROUNDS"
    FILE_A="$WORK/closed.jsonl"
    NOW_A=$(sign_requests "$CLOSED_LINES" "$FILE_A")
    start_server

    # (a) closed loop: the maximum rate and the CPU per request
    drive "$WORK/closed.out" "$FILE_A"
    MAX_RATE=$(field rate "$WORK/closed.out")
    SERVE_US=$(field server_cpu_us_per_request "$WORK/closed.out")
    awk -v r="$MAX_RATE" -v p50="$(field p50_ms "$WORK/closed.out")" -v p99="$(field p99_ms "$WORK/closed.out")" \
        -v n="$(field requests "$WORK/closed.out")" -v s="$(field server_cpu_s "$WORK/closed.out")" \
        -v e="$(field elapsed_s "$WORK/closed.out")" -v c="$(field client_cpu_s "$WORK/closed.out")" -v us="$SERVE_US" 'BEGIN {
        printf "(a) closed loop:   %7d requests, %8.0f/s max, p50 %.3f ms, p99 %.3f ms; server %.2f CPU-s = %.1f us/request (%.0f/CPU-s), busy %.0f %% of wall, client busy %.0f %%\n",
            n, r, p50, p99, s, us, 1e6 / us, 100 * s / e, 100 * c / e }'
    # Another process on the server's core takes CPU time and pollutes its
    # caches: the CPU per request of such a round is not the server's alone.
    if awk -v s="$(field server_cpu_s "$WORK/closed.out")" -v e="$(field elapsed_s "$WORK/closed.out")" 'BEGIN {exit !(s < 0.9 * e)}'; then
        echo "    (the server had less than 90 % of its core: something else ran there; compare only rounds busy near 100 %)"
    fi
    [ "$(field exhausted "$WORK/closed.out")" = "" ] ||
        echo "    (the $CLOSED_LINES requests ran out before $SECONDS_PER s: the rate is still the maximum, over a shorter window)"

    # (b) open loop at half the maximum rate
    HALF=$(awk -v r="$MAX_RATE" 'BEGIN {printf "%.0f", r / 2}')
    [ "$HALF" -gt 0 ] || die "the maximum rate is $MAX_RATE"
    OPEN_LINES=$((SECONDS_PER * HALF * 11 / 10 + 2 * CONNECTIONS))
    sign_requests "$OPEN_LINES" "$WORK/open.jsonl" >/dev/null
    # The inputs just signed and the server's log so far, on disk before
    # the window opens: otherwise the kernel's writeback of them (a kworker
    # that ran for 11-26 ms at a time here) can fall inside it and take a
    # core from the server or the generator.
    sync
    LOG_FROM=$(wc -l <"$WORK/server.log")
    drive "$WORK/open.out" "$WORK/open.jsonl" --rate "$HALF"
    P99=$(field p99_ms "$WORK/open.out")
    LAG=$(field send_lag_p99_ms "$WORK/open.out")
    awk -v t="$HALF" -v r="$(field rate "$WORK/open.out")" -v n="$(field requests "$WORK/open.out")" \
        -v p50="$(field p50_ms "$WORK/open.out")" -v p90="$(field p90_ms "$WORK/open.out")" -v p99="$P99" \
        -v p999="$(field p999_ms "$WORK/open.out")" -v mx="$(field max_ms "$WORK/open.out")" \
        -v lag="$(field send_lag_p99_ms "$WORK/open.out")" -v us="$(field server_cpu_us_per_request "$WORK/open.out")" 'BEGIN {
        printf "(b) open loop:     %7d requests at %.0f/s (target %d/s): p50 %.3f, p90 %.3f, p99 %.3f, p99.9 %.3f, max %.3f ms (from due time; send lag p99 %.3f ms); server %.1f us/request\n",
            n, r, t, p50, p90, p99, p999, mx, lag, us }'
    # The generator shares its core with whatever else runs: when it sent
    # late, the percentiles hold its lateness too.
    if awk -v l="$LAG" -v r="$(field rate "$WORK/open.out")" -v t="$HALF" 'BEGIN {exit !(l > 1 || r < 0.97 * t)}'; then
        echo "    (the load generator itself was late: send lag p99 $LAG ms; this round's latency is not the server's alone)"
    fi
    # Every other thread on the machine (kernel threads, other processes)
    # runs on the two busy cores: its bursts are in the latency tail.
    echo "    other threads on the machine during (b): $(field others_cpu_ms "$WORK/open.out") ms of CPU (biggest: $(field others_top "$WORK/open.out"))"
    OTHERS+=("$(field others_cpu_ms "$WORK/open.out")")
    # The server's own time for each request of (b), as its request log
    # gives it (latency_us: from the request read to the answer built),
    # against the client's latency above, which also holds the waits for a
    # core and the queue behind them.
    OWN=$(tail -n +"$((LOG_FROM + 1))" "$WORK/server.log" | sed -n 's/.* latency_us=\([0-9]*\) .*/\1/p' | sort -n |
        awk '{a[NR] = $1} END {if (NR) printf "p50 %.3f, p99 %.3f, max %.3f ms over %d requests", a[int((NR - 1) * 0.5) + 1] / 1000, a[int((NR - 1) * 0.99) + 1] / 1000, a[NR] / 1000, NR}')
    [ -z "$OWN" ] || echo "    the server's own time per request in (b), from its log: $OWN"
    stop_server

    # (c) verify --batch --jobs 1 on the PASSporTs of (a), on the server's core
    rc=0
    taskset -c "$SERVER_CORE" /usr/bin/time -f "%U %S" -o "$WORK/batch.time" "$SHAKEN" verify \
        --cert "$CERTS/sp-chain.pem" --trust-anchors "$CERTS/root.pem" --now "$NOW_A" \
        --batch "$FILE_A" --jobs 1 >/dev/null 2>"$WORK/batch.err" || rc=$?
    [ "$rc" = 0 ] || die "verify --batch exited with $rc: $(head -c 1000 "$WORK/batch.err")"
    BATCH_CPU=$(awk '{print $1 + $2}' "$WORK/batch.time")
    BATCH_US=$(awk -v c="$BATCH_CPU" -v n="$CLOSED_LINES" 'BEGIN {printf "%.2f", 1e6 * c / n}')
    awk -v n="$CLOSED_LINES" -v c="$BATCH_CPU" -v us="$BATCH_US" 'BEGIN {
        printf "(c) verify --batch --jobs 1: %d lines, %.2f CPU-s = %.1f us/line (%.0f/CPU-s)\n", n, c, us, 1e6 / us }'

    RATIO=$(awk -v b="$BATCH_US" -v s="$SERVE_US" 'BEGIN {printf "%.3f", b / s}')
    echo "round $round: serve per core / batch per core = $RATIO; p99 at half max = $P99 ms"
    RATIOS+=("$RATIO")
    P99S+=("$P99")
done

RATIO=$(printf '%s\n' "${RATIOS[@]}" | median | awk '{printf "%.2f", $1}')
P99=$(printf '%s\n' "${P99S[@]}" | median | awk '{printf "%.2f", $1}')
echo
echo "== issue 21: the REST service per core (median of $ROUNDS rounds)"
echo "serve per core / verify --batch per core: $RATIO (rounds: ${RATIOS[*]}; target >= 0.75)"
echo "p99 at half the maximum rate:             $P99 ms (rounds: ${P99S[*]}; target < 2 ms)"
echo "other threads' CPU in each open loop:      ${OTHERS[*]} ms (context: kernel threads and other processes on the two cores)"
echo "RESULT serve_per_core_vs_batch $RATIO"
echo "RESULT serve_p99_ms_at_half_max $P99"
