#!/usr/bin/env bash
# C ABI overhead: one verification (pinned chain, replay off, the same token)
# through shaken_verify_identity from C vs the same work on the Rust API.
# Runs each side 3 times, alternating, and prints the medians and the overhead.
#   bench/capi-bench.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
ITER="${1:-20000}"
NOW=1800000000
OUT="${TMPDIR:-/tmp}/shaken-capi-bench"
mkdir -p "$OUT"
cargo build --locked --release -p shaken-capi
cargo bench --locked -p shaken-capi --bench rust_api --no-run 2>/dev/null
LIB="${CARGO_TARGET_DIR:-$PWD/target}/release"
gcc -O2 -Wall -Wextra -Werror -Iinclude bench/capi-bench.c -L"$LIB" -lshaken -Wl,-rpath,"$LIB" -o "$OUT/capi-bench"
gcc -O2 -Wall -Wextra -Werror -Iinclude examples/c/sign_call.c -L"$LIB" -lshaken -Wl,-rpath,"$LIB" -o "$OUT/sign_call"
ID=$("$OUT/sign_call" certs/sp.key.pem https://cr.example.net/sp.pem 12155550121 12125550143 A "$NOW")
c=(); r=()
for _ in 1 2 3; do
  c+=("$("$OUT/capi-bench" certs "$ID" "$NOW" "$ITER" | awk '{print $3}')")
  r+=("$(cargo bench --locked -q -p shaken-capi --bench rust_api -- "$ID" "$NOW" "$ITER" 2>/dev/null | awk '/ns_per_verify/ {print $3}')")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
C=$(median "${c[@]}"); R=$(median "${r[@]}")
echo "runs (ns/verify): C ABI ${c[*]} | Rust API ${r[*]}"
awk -v c="$C" -v r="$R" 'BEGIN { printf "C ABI %d ns/verify, Rust API %d ns/verify: overhead %+.1f %%\n", c, r, (c - r) * 100 / r }'
