#!/usr/bin/env bash
# Load test of `shaken serve` /stir/v1/verification with wrk, on loopback.
#
#   bench/serve-load.sh [DURATION_SECONDS] [CONNECTIONS] [THREADS]
#
# Builds nothing and installs nothing: it uses target/release/shaken (run
# `cargo build --release` first, or set SHAKEN=/path/to/shaken) and `wrk` from
# PATH. It makes a lab PKI in a temporary directory, starts the server on
# 127.0.0.1 with that chain as --cert (the "cached certificate" case) and
# replay detection off (the same PASSporT is posted again and again), runs wrk
# for a bounded time, prints requests/s and p99, and stops the server.
# Without wrk, use the in-process driver instead:
#   cargo run --release --example serve_load -- --seconds 5
set -euo pipefail

DURATION="${1:-10}"
CONNECTIONS="${2:-32}"
THREADS="${3:-1}"
SHAKEN="${SHAKEN:-$(dirname "$0")/../target/release/shaken}"

if ! command -v wrk >/dev/null 2>&1; then
    echo "serve-load: wrk is not installed (this script installs nothing)." >&2
    echo "serve-load: install wrk, or run: cargo run --release --example serve_load -- --seconds 5" >&2
    exit 1
fi
if [ ! -x "$SHAKEN" ]; then
    echo "serve-load: $SHAKEN not found; run 'cargo build --release' or set SHAKEN=" >&2
    exit 1
fi
case "$DURATION" in ''|*[!0-9]*) echo "serve-load: DURATION must be whole seconds" >&2; exit 2;; esac
[ "$DURATION" -le 120 ] || { echo "serve-load: DURATION is capped at 120 s" >&2; exit 2; }

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$SHAKEN" pki init "$WORK/lab" >/dev/null 2>&1
NOW="$(date +%s)"
X5U="https://cr.example.net/sp-1234.pem"
IDENTITY="$("$SHAKEN" sign --key "$WORK/lab/sp.key.pem" --x5u "$X5U" \
    --orig 12155550121 --dest 12155550131 --attest A --iat "$NOW")"
printf '{"verificationRequest":{"from":{"tn":"12155550121"},"to":{"tn":["12155550131"]},"time":%s,"identity":"%s"}}' \
    "$NOW" "$IDENTITY" > "$WORK/body.json"
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("$WORK/body.json", "r"))
wrk.body = f:read("*a")
f:close()
LUA

RUST_LOG=warn "$SHAKEN" serve --listen 127.0.0.1:0 --cert "$WORK/lab/sp-chain.pem" \
    --trust-anchors "$WORK/lab/root.pem" --no-replay --now "$NOW" 2> "$WORK/server.log" &
SERVER_PID=$!
ADDR=""
for _ in $(seq 1 100); do
    ADDR="$(sed -n 's/^listening on //p' "$WORK/server.log" | head -n1)"
    [ -n "$ADDR" ] && break
    sleep 0.05
done
[ -n "$ADDR" ] || { echo "serve-load: server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }

# One request first: it must pass, or the numbers mean nothing.
CHECK="$(curl -s -H 'Content-Type: application/json' --data-binary @"$WORK/body.json" "http://$ADDR/stir/v1/verification" || true)"
case "$CHECK" in *TN-Validation-Passed*) ;; *) echo "serve-load: sanity check failed: $CHECK" >&2; exit 1;; esac

# Server CPU time (user+system clock ticks) around the run: verifications
# per CPU-second is the server's per-core rate, whatever the core count.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
TICKS_BEFORE="$(cpu_ticks)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/post.lua" \
    "http://$ADDR/stir/v1/verification" | tee "$WORK/wrk.txt"
TICKS_AFTER="$(cpu_ticks)"
HZ="$(getconf CLK_TCK)"
echo
RPS="$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")"
REQS="$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")"
CPU_S="$(awk -v a="$TICKS_BEFORE" -v b="$TICKS_AFTER" -v hz="$HZ" 'BEGIN {printf "%.2f", (b - a) / hz}')"
PER_CORE="$(awk -v r="$REQS" -v c="$CPU_S" 'BEGIN {if (c > 0) printf "%.0f", r / c; else print "n/a"}')"
echo "requests/s:           $RPS"
echo "p99:                  $(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")"
echo "server CPU:           ${CPU_S} s for $REQS requests"
echo "server per CPU-second: $PER_CORE verifications (compare: shaken verify --batch --jobs 1 lines/s)"
echo "server:     $(curl -s "http://$ADDR/metrics" | grep '^shaken_verifications_total' | tr '\n' ' ')"
