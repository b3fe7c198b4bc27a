#!/usr/bin/env bash
# Every Debian package the suites of .ci/run need, installed in one go with a
# single `apt-get update` when any is missing (a fresh machine has only Rust).
# The suite scripts (.ci/interop.sh, .ci/capi.sh, .ci/kamailio.sh) still install
# their own when run alone.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have gcc || need+=(gcc libc6-dev)
have valgrind || need+=(valgrind)
have redis-server || need+=(redis-server)
have secsipidx || need+=(secsipidx)
have sipp || need+=(sip-tester)
have chromium || need+=(chromium)
kam_modules() {
  for d in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/aarch64-linux-gnu/kamailio/modules \
           /usr/lib/kamailio/modules /usr/local/lib64/kamailio/modules /usr/local/lib/kamailio/modules; do
    [ -f "$d/http_client.so" ] && [ -f "$d/json.so" ] && return 0
  done
  return 1
}
{ have kamailio && kam_modules; } || need+=(kamailio kamailio-utils-modules kamailio-json-modules)
if [ "${#need[@]}" -eq 0 ]; then
  echo "all present"
  exit 0
fi
if ! have apt-get; then
  echo "error: missing ${need[*]} and apt-get is not available" >&2
  exit 2
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
echo "installing ${need[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
