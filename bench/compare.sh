#!/usr/bin/env bash
# Issue 7 in one run: shaken's batch sign/verify against `openssl speed
# ecdsap256` on this machine, with every target printed as PASS/FAIL.
#
#   bench/compare.sh [SECONDS]          (default 3; or SECONDS_PER=N; see below)
#
# Environment (all optional):
#   SECONDS_PER=N  target length of each throughput measurement (default 3)
#   REPEAT=N       runs per throughput measurement; the median is used (default 3)
#   BIG_LINES=N    lines of the memory run (default 1000000)
#   ONESHOT_RUNS=N one-shot `shaken verify` runs; the median is used (default 50)
#   MISS_LINES=N   lines of the cache-miss run (default 10000)
#   JOBS_ALL=N     "all cores" (default: nproc)
#   NO_BUILD=1     skip `cargo build --release` (use the binaries already in target/release)
#
# Needs: a Rust toolchain (it builds first), openssl, /usr/bin/time, awk.
# Ratios, not absolute numbers, are what this noisy machine can compare:
# OpenSSL is measured twice (at the start and at the end) and the higher
# figure is used, so a slow OpenSSL run never flatters shaken.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER="${1:-${SECONDS_PER:-3}}"
REPEAT="${REPEAT:-3}"
BIG_LINES="${BIG_LINES:-1000000}"
ONESHOT_RUNS="${ONESHOT_RUNS:-50}"
MISS_LINES="${MISS_LINES:-10000}"
JOBS_ALL="${JOBS_ALL:-$(nproc)}"
for v in SECONDS_PER REPEAT BIG_LINES ONESHOT_RUNS MISS_LINES JOBS_ALL; do
    case "${!v}" in '' | *[!0-9]* | 0) echo "compare: $v must be a positive whole number" >&2; exit 2 ;; esac
done
for tool in openssl /usr/bin/time awk; do
    command -v "$tool" >/dev/null 2>&1 || { echo "compare: $tool is required" >&2; exit 2; }
done

if [ -z "${NO_BUILD:-}" ]; then
    echo "== building (cargo build --release, examples raw_es256 and x5u_server)"
    cargo build --release --quiet
    cargo build --release --quiet --example raw_es256 --example x5u_server
fi
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SHAKEN="$TARGET/release/shaken"
RAW="$TARGET/release/examples/raw_es256"
X5U_SERVER="$TARGET/release/examples/x5u_server"
CERTS="$ROOT/certs"
NOW=1800000000
X5U=https://cr.example.net/sp.pem
ORIG=12155550121
DEST=12125550143

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shaken-compare.XXXXXX")
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- helpers -----------------------------------------------------------------
now_us() { echo "${EPOCHREALTIME/./}"; }
# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
fmt0() { awk -v x="$1" 'BEGIN {printf "%.0f", x}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "n/a"}'; }
# verdict VALUE OP LIMIT  ->  PASS|FAIL
verdict() {
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        ok = (op == ">=") ? (v >= l) : (op == "<") ? (v < l) : (v == l)
        print ok ? "PASS" : "FAIL" }'
}
SUMMARY=()
target() { # NAME VALUE OP LIMIT UNIT
    local v
    v=$(verdict "$2" "$3" "$4")
    SUMMARY+=("$(printf '%-48s %12s %-2s %-8s %s' "$1" "$2$5" "$3" "$4$5" "$v")")
}

openssl_speed() { # -> "sign/s verify/s"
    openssl speed -seconds "$SECONDS_PER" ecdsap256 2>/dev/null |
        awk '/ecdsa \(nistp256\)/ {print $(NF-1), $NF}'
}

# rate NAME LINES CMD... : run CMD (stdout to /dev/null) REPEAT times, each
# timed by its own wall clock; prints the median lines/s. Exit status must
# be 0 (every line passed or was signed).
rate() {
    local name=$1 lines=$2
    shift 2
    local i t0 t1 rc rates=()
    for ((i = 0; i < REPEAT; i++)); do
        t0=$(now_us)
        rc=0
        "$@" >/dev/null 2>"$WORK/stderr" || rc=$?
        t1=$(now_us)
        if [ "$rc" != 0 ]; then
            echo "compare: $name exited with $rc:" >&2
            cat "$WORK/stderr" >&2
            exit 1
        fi
        rates+=("$(awk -v n="$lines" -v us=$((t1 - t0)) 'BEGIN {printf "%.1f", n / (us / 1e6)}')")
    done
    printf '%s\n' "${rates[@]}" | median
}

# --- machine -----------------------------------------------------------------
echo "== machine"
echo "cpu:     $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) cores"
echo "kernel:  $(uname -sr)"
echo "openssl: $(openssl version)"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
echo "settings: SECONDS_PER=$SECONDS_PER REPEAT=$REPEAT BIG_LINES=$BIG_LINES ONESHOT_RUNS=$ONESHOT_RUNS MISS_LINES=$MISS_LINES JOBS_ALL=$JOBS_ALL"

# --- the physical limit ------------------------------------------------------
echo
echo "== raw ES256, one core (${SECONDS_PER} s each)"
read -r OSSL_SIGN1 OSSL_VERIFY1 < <(openssl_speed)
echo "openssl speed ecdsap256 (start): sign/s $(fmt0 "$OSSL_SIGN1")  verify/s $(fmt0 "$OSSL_VERIFY1")"
RAW_OUT=$("$RAW" "$CERTS/sp.key.pem" "$SECONDS_PER")
RAW_SIGN=$(awk '/^sign\/s/ {print $2}' <<<"$RAW_OUT")
RAW_VERIFY=$(awk '/^verify\/s/ {print $2}' <<<"$RAW_OUT")
echo "shaken backend (examples/raw_es256): sign/s $RAW_SIGN  verify/s $RAW_VERIFY"

# --- inputs (not timed) ------------------------------------------------------
VERIFY_LINES=$((SECONDS_PER * 22000))
SIGN_LINES=$((SECONDS_PER * 65000))
echo
echo "== inputs (not timed)"
# Signing requests: distinct origid per line, so every token is distinct.
make_requests() { # N
    awk -v n="$1" -v o="$ORIG" -v d="$DEST" -v t="$NOW" 'BEGIN {
        for (i = 0; i < n; i++)
            printf "{\"attest\":\"A\",\"dest\":{\"tn\":[\"%s\"]},\"iat\":%d,\"orig\":{\"tn\":\"%s\"},\"origid\":\"%08x-0000-4000-8000-%012x\"}\n", d, t, o, i, i
    }'
}
# {"identity":"..."} lines -> verification requests for the same call.
to_verify_requests() {
    awk -v o="$ORIG" -v d="$DEST" -v t="$NOW" \
        '{print "{\"from\":{\"tn\":\"" o "\"},\"to\":{\"tn\":[\"" d "\"]},\"time\":" t "," substr($0, 2)}'
}
make_requests "$SIGN_LINES" >"$WORK/sign.jsonl"
head -n "$VERIFY_LINES" "$WORK/sign.jsonl" |
    "$SHAKEN" sign --key "$CERTS/sp.key.pem" --x5u "$X5U" --batch - 2>/dev/null |
    to_verify_requests >"$WORK/verify.jsonl"
echo "sign input:   $SIGN_LINES requests (distinct origid)"
echo "verify input: $VERIFY_LINES distinct signed requests (sign --batch), x5u $X5U"

VERIFY_ARGS=(verify --cert "$CERTS/sp-chain.pem" --trust-anchors "$CERTS/root.pem" --now "$NOW")
SIGN_ARGS=(sign --key "$CERTS/sp.key.pem" --x5u "$X5U")

# --- batch throughput --------------------------------------------------------
echo
echo "== batch throughput (wall time of the process, median of $REPEAT)"
echo "verify: --cert (cached chain), --now pinned, replay detection ON (the default), every line distinct"
V1=$(rate "verify --jobs 1" "$VERIFY_LINES" "$SHAKEN" "${VERIFY_ARGS[@]}" --batch "$WORK/verify.jsonl" --jobs 1)
VN=$(rate "verify --jobs $JOBS_ALL" "$VERIFY_LINES" "$SHAKEN" "${VERIFY_ARGS[@]}" --batch "$WORK/verify.jsonl" --jobs "$JOBS_ALL")
echo "sign: ring key, hedged nonces, origid given"
S1=$(rate "sign --jobs 1" "$SIGN_LINES" "$SHAKEN" "${SIGN_ARGS[@]}" --batch "$WORK/sign.jsonl" --jobs 1)
SN=$(rate "sign --jobs $JOBS_ALL" "$SIGN_LINES" "$SHAKEN" "${SIGN_ARGS[@]}" --batch "$WORK/sign.jsonl" --jobs "$JOBS_ALL")

read -r OSSL_SIGN2 OSSL_VERIFY2 < <(openssl_speed)
echo "openssl speed ecdsap256 (end):   sign/s $(fmt0 "$OSSL_SIGN2")  verify/s $(fmt0 "$OSSL_VERIFY2")"
OSSL_SIGN=$(awk -v a="$OSSL_SIGN1" -v b="$OSSL_SIGN2" 'BEGIN {print (a > b) ? a : b}')
OSSL_VERIFY=$(awk -v a="$OSSL_VERIFY1" -v b="$OSSL_VERIFY2" 'BEGIN {print (a > b) ? a : b}')

printf '%-34s %10s %12s %12s\n' "run" "lines/s" "/ openssl" "/ backend"
printf '%-34s %10s %12s %12s\n' "openssl verify (higher of 2)" "$(fmt0 "$OSSL_VERIFY")" "1.00" ""
printf '%-34s %10s %12s %12s\n' "backend raw verify" "$(fmt0 "$RAW_VERIFY")" "$(ratio "$RAW_VERIFY" "$OSSL_VERIFY")" "1.00"
printf '%-34s %10s %12s %12s\n' "verify --batch --jobs 1" "$(fmt0 "$V1")" "$(ratio "$V1" "$OSSL_VERIFY")" "$(ratio "$V1" "$RAW_VERIFY")"
printf '%-34s %10s %12s %12s\n' "verify --batch --jobs $JOBS_ALL" "$(fmt0 "$VN")" "$(ratio "$VN" "$OSSL_VERIFY")" ""
printf '%-34s %10s %12s %12s\n' "openssl sign (higher of 2)" "$(fmt0 "$OSSL_SIGN")" "1.00" ""
printf '%-34s %10s %12s %12s\n' "backend raw sign" "$(fmt0 "$RAW_SIGN")" "$(ratio "$RAW_SIGN" "$OSSL_SIGN")" "1.00"
printf '%-34s %10s %12s %12s\n' "sign --batch --jobs 1" "$(fmt0 "$S1")" "$(ratio "$S1" "$OSSL_SIGN")" "$(ratio "$S1" "$RAW_SIGN")"
printf '%-34s %10s %12s %12s\n' "sign --batch --jobs $JOBS_ALL" "$(fmt0 "$SN")" "$(ratio "$SN" "$OSSL_SIGN")" ""
echo "scaling $JOBS_ALL cores / 1 core: verify $(ratio "$VN" "$V1")x, sign $(ratio "$SN" "$S1")x"

target "batch verify, 1 core / openssl verify" "$(ratio "$V1" "$OSSL_VERIFY")" ">=" 1.2 "x"
target "batch sign, 1 core / openssl sign" "$(ratio "$S1" "$OSSL_SIGN")" ">=" 1.2 "x"
if [ "$JOBS_ALL" -ge 2 ]; then
    target "batch verify, $JOBS_ALL cores / 1 core" "$(ratio "$VN" "$V1")" ">=" 1.8 "x"
    target "batch sign, $JOBS_ALL cores / 1 core" "$(ratio "$SN" "$S1")" ">=" 1.8 "x"
fi

# --- memory ------------------------------------------------------------------
echo
echo "== memory: peak RSS of a $BIG_LINES-line batch verify (--jobs $JOBS_ALL)"
echo "input: 10,000 distinct signed lines repeated, streamed on stdin; --no-replay (repeated"
echo "lines would be replays; the replay store's memory grows with the calls inside the"
echo "freshness window, not with the input length)"
head -n 10000 "$WORK/verify.jsonl" >"$WORK/v10k.jsonl"
repeat_input() {
    local left=$BIG_LINES
    while [ "$left" -ge 10000 ]; do cat "$WORK/v10k.jsonl"; left=$((left - 10000)); done
    if [ "$left" -gt 0 ]; then head -n "$left" "$WORK/v10k.jsonl"; fi
}
t0=$(now_us)
rc=0
repeat_input | /usr/bin/time -v "$SHAKEN" "${VERIFY_ARGS[@]}" --no-replay --batch - --jobs "$JOBS_ALL" \
    >/dev/null 2>"$WORK/time.txt" || rc=$?
t1=$(now_us)
[ "$rc" = 0 ] || { echo "compare: the memory run exited with $rc" >&2; cat "$WORK/time.txt" >&2; exit 1; }
RSS_KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
RSS_MIB=$(awk -v k="$RSS_KB" 'BEGIN {printf "%.1f", k / 1024}')
grep -E '^summary:' "$WORK/time.txt" || true
echo "peak RSS: $RSS_KB KB = $RSS_MIB MiB; $(fmt0 "$(awk -v n="$BIG_LINES" -v us=$((t1 - t0)) 'BEGIN {print n / (us / 1e6)}')") lines/s"
target "peak RSS, $BIG_LINES-line batch verify" "$RSS_MIB" "<" 64 " MiB"

# --- one-shot process --------------------------------------------------------
echo
echo "== one-shot: shaken verify --cert ... VALUE (whole process, median of $ONESHOT_RUNS)"
IDENTITY=$(head -n 1 "$WORK/verify.jsonl" | sed 's/.*"identity":"\([^"]*\)".*/\1/')
ONESHOT=(verify --cert "$CERTS/sp-chain.pem" --trust-anchors "$CERTS/root.pem" --now "$NOW"
    --orig "$ORIG" --dest "$DEST" "$IDENTITY")
"$SHAKEN" "${ONESHOT[@]}" >/dev/null || { echo "compare: the one-shot verify did not pass" >&2; exit 1; }
times=()
for ((i = 0; i < ONESHOT_RUNS; i++)); do
    t0=$(now_us)
    "$SHAKEN" "${ONESHOT[@]}" >/dev/null
    t1=$(now_us)
    times+=("$((t1 - t0))")
done
ONESHOT_MS=$(printf '%s\n' "${times[@]}" | median | awk '{printf "%.2f", $1 / 1000}')
ONESHOT_MIN=$(printf '%s\n' "${times[@]}" | sort -g | head -n 1 | awk '{printf "%.2f", $1 / 1000}')
echo "median $ONESHOT_MS ms (fastest $ONESHOT_MIN ms)"
target "one-shot verify --cert, process wall time" "$ONESHOT_MS" "<" 10 " ms"

# --- cache miss: one fetch ---------------------------------------------------
echo
echo "== cache miss: $MISS_LINES-line batch verify fetching x5u from a loopback server (--jobs $JOBS_ALL)"
"$X5U_SERVER" "$CERTS/sp-chain.pem" >"$WORK/server.out" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 100); do
    PORT=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/server.out")
    [ -n "$PORT" ] && break
    sleep 0.05
done
[ -n "$PORT" ] || { echo "compare: the x5u server did not start" >&2; cat "$WORK/server.out" >&2; exit 1; }
MISS_X5U="http://127.0.0.1:$PORT/sp-chain.pem"
make_requests "$MISS_LINES" |
    "$SHAKEN" sign --key "$CERTS/sp.key.pem" --x5u "$MISS_X5U" --batch - 2>/dev/null |
    to_verify_requests >"$WORK/miss.jsonl"
rc=0
"$SHAKEN" verify --trust-anchors "$CERTS/root.pem" --now "$NOW" --allow-http-x5u --allow-private-x5u \
    --batch "$WORK/miss.jsonl" --jobs "$JOBS_ALL" >/dev/null 2>"$WORK/miss.err" || rc=$?
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
grep -E '^summary:' "$WORK/miss.err" || true
[ "$rc" = 0 ] || { echo "compare: the cache-miss run exited with $rc" >&2; cat "$WORK/miss.err" >&2; exit 1; }
FETCHES=$(sed -n 's/^requests: //p' "$WORK/server.out")
echo "x5u $MISS_X5U; the server saw $FETCHES request(s) for $MISS_LINES verifications"
target "x5u fetches for $MISS_LINES verifications" "${FETCHES:-0}" "==" 1 ""

# --- verdict -----------------------------------------------------------------
echo
echo "== issue 7 targets"
printf '%-48s %12s %-2s %-8s %s\n' "target" "measured" "" "limit" "result"
printf '%s\n' "${SUMMARY[@]}"
echo "ceiling (backend raw / openssl, same run): verify $(ratio "$RAW_VERIFY" "$OSSL_VERIFY")x, sign $(ratio "$RAW_SIGN" "$OSSL_SIGN")x"
