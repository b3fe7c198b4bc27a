#!/usr/bin/env bash
# Interoperability tests against secsipidx (Debian/Ubuntu package `secsipidx`,
# the Go STIR/SHAKEN implementation used with Kamailio). Installs it with
# apt-get when it is missing, then runs the #[ignore]d tests in tests/interop.rs.
# Needs a Debian-like machine (bookworm+ / Ubuntu 22.04+) with network for apt.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

if ! command -v secsipidx >/dev/null 2>&1; then
  echo "== installing secsipidx with apt-get"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: secsipidx is not installed and apt-get is not available; install the" >&2
    echo "       secsipidx package (or set SHAKEN_SKIP_INTEROP=1 to skip these tests)" >&2
    exit 2
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends secsipidx \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends secsipidx; }
fi
echo "== secsipidx: $(command -v secsipidx)"

echo "== interop tests (tests/interop.rs)"
cargo test --locked --test interop -- --ignored
