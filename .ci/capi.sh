#!/usr/bin/env bash
# The C ABI (issue 9): build libshaken.so/.a, check include/shaken.h is current,
# compile the C examples and the threaded test with -Wall -Wextra -Werror
# (dynamically with rpath, and once statically against libshaken.a), run them
# against certs/ (pinned chain: no network), and run the examples under valgrind.
# Needs a Rust toolchain; installs gcc and valgrind with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

need=()
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v valgrind >/dev/null || need+=(valgrind)
if [ "${#need[@]}" -gt 0 ]; then
  echo "== installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== capi: build libshaken.so / libshaken.a"
cargo build --locked --release -p shaken-capi
echo "== capi: tests (ABI, loopback x5u fetch, include/shaken.h is current)"
cargo test --locked -p shaken-capi
echo "== capi: clippy"
cargo clippy --locked -p shaken-capi --all-targets -- -D warnings

LIB="${CARGO_TARGET_DIR:-$PWD/target}/release"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
CFLAGS=(-std=c11 -O2 -Wall -Wextra -Werror -Iinclude)
dyn() { gcc "${CFLAGS[@]}" "$1" -L"$LIB" -lshaken -lpthread -Wl,-rpath,"$LIB" -o "$2"; }

echo "== capi: compile the C programs"
dyn examples/c/sign_call.c "$OUT/sign_call"
dyn examples/c/verify_invite.c "$OUT/verify_invite"
dyn capi/tests/c/threads.c "$OUT/threads"
dyn bench/capi-bench.c "$OUT/capi-bench"
# One program linked statically against libshaken.a (no libshaken.so at run time).
gcc "${CFLAGS[@]}" examples/c/verify_invite.c "$LIB/libshaken.a" -lpthread -ldl -lm -o "$OUT/verify_invite_static"
if ldd "$OUT/verify_invite_static" | grep -q libshaken; then
  echo "verify_invite_static should not need libshaken.so"; exit 1
fi

NOW=1800000000
X5U=https://cr.example.net/sp.pem
echo "== capi: sign an outgoing call"
ID=$("$OUT/sign_call" certs/sp.key.pem "$X5U" "+1 (215) 555-0121" 2125550143 A "$NOW")
echo "$ID"
case "$ID" in *";info=<$X5U>;alg=ES256;ppt=shaken") ;; *) echo "unexpected Identity value"; exit 1 ;; esac

# An INVITE carrying it (LF line ends, as a trace file often has).
{
  printf 'INVITE sip:+12125550143@example.net SIP/2.0\n'
  printf 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKcapi\n'
  printf 'From: <tel:+12155550121>;tag=1\nTo: <tel:+12125550143>\n'
  printf 'Call-ID: capi-ci@192.0.2.1\nCSeq: 1 INVITE\n'
  printf 'Identity: %s\n' "$ID"
  printf 'Content-Length: 0\n\n'
} > "$OUT/invite.txt"
sed 's/^From: <tel:+12155550121>/From: <tel:+12155550199>/' "$OUT/invite.txt" > "$OUT/spoofed.txt"

echo "== capi: verify the incoming INVITE (dynamic and static builds)"
for prog in verify_invite verify_invite_static; do
  "$OUT/$prog" "$OUT/invite.txt" certs/root.pem certs/sp-chain.pem "$NOW" | tee "$OUT/out.txt"
  grep -q '^PASSED attest=A spc=1234' "$OUT/out.txt"
done
set +e
"$OUT/verify_invite" "$OUT/spoofed.txt" certs/root.pem certs/sp-chain.pem "$NOW" > "$OUT/out.txt"
rc=$?
set -e
cat "$OUT/out.txt"
[ "$rc" -eq 1 ] || { echo "spoofed caller ID: expected exit 1, got $rc"; exit 1; }
grep -q '^Reason: SIP ;cause=438 ;text="Invalid Identity Header"$' "$OUT/out.txt"

echo "== capi: 8 threads, good and bad headers"
"$OUT/threads" certs "$NOW"

echo "== capi: valgrind (no leaks, no errors)"
VG=(valgrind -q --leak-check=full --error-exitcode=1 --suppressions=capi/valgrind.supp)
"${VG[@]}" "$OUT/sign_call" certs/sp.key.pem "$X5U" 12155550121 12125550143 B "$NOW" > /dev/null
"${VG[@]}" "$OUT/verify_invite" "$OUT/invite.txt" certs/root.pem certs/sp-chain.pem "$NOW" > /dev/null
set +e
"${VG[@]}" "$OUT/verify_invite" "$OUT/spoofed.txt" certs/root.pem certs/sp-chain.pem "$NOW" > /dev/null
rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "valgrind on the failing verification: exit $rc"; exit 1; }

echo "== capi: C ABI vs Rust API (short run; bench/capi-bench.sh for the full one)"
"$OUT/capi-bench" certs "$ID" "$NOW" 2000
echo "== capi: ok"
