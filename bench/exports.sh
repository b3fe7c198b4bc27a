#!/usr/bin/env bash
# Issue 20's speed goal: what --report, --summary-json, --csv and --traceback
# cost `verify --batch` (at most 5 % of its throughput), and whether the
# memory of --summary-json stays flat as the input grows.
#
#   bench/exports.sh [LINES]            (default 100000)
#
# Environment (all optional):
#   REPEAT=N   runs of each variant, interleaved; the median is used (default 5)
#   JOBS=N     --jobs (default: nproc)
#   NO_BUILD=1 skip `cargo build --release`
#
# The input is mixed the way the investigator's view is meant for: 10 % of
# the lines without identity (unsigned), 10 % with a spoofed calling number
# (attributed to their signer), three peers, times over an hour (verified
# at each line's own time, replay detection off so that every run does the
# same work). Needs: a Rust toolchain, /usr/bin/time, awk.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
LINES="${1:-100000}"
REPEAT="${REPEAT:-5}"
JOBS="${JOBS:-$(nproc)}"
for v in LINES REPEAT JOBS; do
    case "${!v}" in '' | *[!0-9]* | 0) echo "exports: $v must be a positive whole number" >&2; exit 2 ;; esac
done
command -v /usr/bin/time >/dev/null || { echo "exports: /usr/bin/time is required" >&2; exit 2; }
if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release --quiet
fi
SHAKEN="${CARGO_TARGET_DIR:-$ROOT/target}/release/shaken"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shaken-exports.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

make_input() { # lines -> file
    awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) {
        printf "{\"attest\":\"%s\",\"dest\":{\"tn\":[\"12125550143\"]},\"iat\":%d,\"orig\":{\"tn\":\"1215555%04d\"}}\n",
            substr("AABBC", i % 5 + 1, 1), 1800000000 + int(i * 3600 / n), i % 10000 } }' \
        | "$SHAKEN" sign --key "$ROOT/certs/sp.key.pem" --x5u https://cr.example.net/sp.pem --batch - 2>/dev/null \
        | awk '{ peer = "sbc-" (NR % 3)
                 if (NR % 10 == 1) sub(/"identity":"[^"]*",/, "")
                 else if (NR % 10 == 2) sub(/"orig":\{"tn":"[0-9]*"\}/, "\"orig\":{\"tn\":\"12025550199\"}")
                 sub(/\}$/, ",\"peer\":\"" peer "\"}"); print }' > "$2"
}

run() { # input, extra args... -> prints "cpu_seconds rss_kib wall_seconds"
    local input=$1; shift
    /usr/bin/time -f "%U %S %M %e" -o "$WORK/time" "$SHAKEN" verify --batch "$input" \
        --cert "$ROOT/certs/sp-chain.pem" --trust-anchors "$ROOT/certs/root.pem" \
        --no-replay --jobs "$JOBS" "$@" > /dev/null 2> "$WORK/err" || true
    grep -q "summary: " "$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
    # (A first line says the exit status was 1.) CPU time, user + system:
    # on a shared machine the wall time mostly measures the neighbours.
    tail -n 1 "$WORK/time" | awk '{ printf "%.2f %d %.2f\n", $1 + $2, $3, $4 }'

}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "== input: $LINES mixed lines, --jobs $JOBS, $REPEAT interleaved runs each"
make_input "$LINES" "$WORK/in.jsonl"
EXPORTS=(--report "$WORK/r.html" --summary-json "$WORK/s.json" --csv "$WORK/c.csv" --traceback "$WORK/t.csv")
: > "$WORK/plain"; : > "$WORK/exports"
run "$WORK/in.jsonl" > /dev/null # warm the page cache
for _ in $(seq "$REPEAT"); do
    run "$WORK/in.jsonl" >> "$WORK/plain"
    run "$WORK/in.jsonl" "${EXPORTS[@]}" >> "$WORK/exports"
done
col() { awk -v c="$1" '{ print $c }' "$2" | median; }
P=$(col 1 "$WORK/plain"); E=$(col 1 "$WORK/exports")
PW=$(col 3 "$WORK/plain"); EW=$(col 3 "$WORK/exports")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v p="$P" -v e="$E" -v pw="$PW" -v ew="$EW" -v n="$LINES" 'BEGIN {
    if (p <= 0 || e <= 0) { print "no timing: FAIL"; exit 1 }
    printf "plain            %7.0f lines per CPU second (median %.2f CPU s; %.2f s wall)\n", n / p, p, pw
    printf "all four outputs %7.0f lines per CPU second (median %.2f CPU s; %.2f s wall)\n", n / e, e, ew
    cost = (e - p) / p * 100
    printf "cost of the outputs: %+.1f %% CPU time (target: at most 5 %%) %s\n", cost, (cost <= 5 ? "PASS" : "FAIL") }'
echo "csv rows: $(($(wc -l < "$WORK/c.csv") - 1)), traceback rows: $(($(wc -l < "$WORK/t.csv") - 1))"

echo "== memory of --summary-json: $LINES lines and 4 x $LINES lines"
for _ in 1 2 3 4; do cat "$WORK/in.jsonl"; done > "$WORK/in4.jsonl"
R1=$(run "$WORK/in.jsonl" --summary-json "$WORK/s1.json" | awk '{ print $2 }')
R4=$(run "$WORK/in4.jsonl" --summary-json "$WORK/s4.json" | awk '{ print $2 }')
awk -v a="$R1" -v b="$R4" 'BEGIN { printf "peak RSS %.1f MiB and %.1f MiB (ratio %.2f; flat: at most 1.25) %s\n",
    a / 1024, b / 1024, b / a, (b / a <= 1.25 ? "PASS" : "FAIL") }'
