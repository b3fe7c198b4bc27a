#!/usr/bin/env bash
# Issue 13: the library crate `shaken` with its default features is what a
# Rust SIP stack links. It must stay small and free of the surfaces' stacks:
# at most 80 crates (itself included), and none of the CLI, service, fetch,
# pcap or lab-PKI dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
tree="$(cargo tree --locked -p shaken -e normal --prefix none | sed 's/ (\*)$//' | sort -u)"
count="$(printf '%s\n' "$tree" | grep -c .)"
echo "shaken (default features): $count crates"
status=0
if [ "$count" -gt 80 ]; then
  echo "FAIL: more than 80 crates:"; printf '%s\n' "$tree"; status=1
fi
for banned in clap axum hyper hyper-util tokio reqwest rcgen pcap-file indicatif tracing-subscriber etherparse toml url; do
  if printf '%s\n' "$tree" | grep -q "^$banned v"; then
    echo "FAIL: $banned is a dependency of the core crate:"
    cargo tree --locked -p shaken -e normal -i "$banned" || true
    status=1
  fi
done
# Issue 21: one crypto library in every product (the CLI, the service, the C ABI):
# aws-lc-rs by default, and ring nowhere in their normal dependencies.
for pkg in shaken-cli shaken-capi; do
  deps="$(cargo tree --locked -p "$pkg" -e normal --prefix none | sed 's/ (\*)$//' | sort -u)"
  if printf '%s\n' "$deps" | grep -q "^ring v"; then
    echo "FAIL: ring is linked into $pkg beside aws-lc-rs:"
    cargo tree --locked -p "$pkg" -e normal -i ring || true
    status=1
  fi
  printf '%s\n' "$deps" | grep -q "^aws-lc-rs v" || { echo "FAIL: $pkg does not use aws-lc-rs"; status=1; }
done
echo "one crypto library (aws-lc-rs) in shaken-cli and shaken-capi: $([ "$status" = 0 ] && echo ok || echo FAIL)"
exit "$status"
