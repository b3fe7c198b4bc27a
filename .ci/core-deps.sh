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
exit "$status"
