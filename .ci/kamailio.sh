#!/usr/bin/env bash
# End to end (issue 19): examples/kamailio/termination.cfg and origination.cfg
# in real Kamailio processes, talking to `shaken serve` over its ATIS-1000082
# REST API, driven by SIPp. Installs the Debian packages kamailio,
# kamailio-utils-modules (http_client), kamailio-json-modules (json) and
# sip-tester (SIPp) with apt-get when they are missing.
#
# Everything listens on 127.0.0.1 only; every process is stopped on exit;
# every SIPp run is bounded by `timeout`. Exits non-zero when a check fails
# and prints "N passed, N failed" last. SHAKEN=path/to/shaken skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never
MODDIR=""

find_modules() {
  MODDIR=""
  for d in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/aarch64-linux-gnu/kamailio/modules \
           /usr/lib/kamailio/modules /usr/local/lib64/kamailio/modules /usr/local/lib/kamailio/modules; do
    if [ -f "$d/http_client.so" ] && [ -f "$d/json.so" ]; then MODDIR=$d; return 0; fi
  done
  return 1
}

if ! command -v kamailio >/dev/null 2>&1 || ! command -v sipp >/dev/null 2>&1 || ! find_modules; then
  echo "== installing kamailio, kamailio-utils-modules, kamailio-json-modules, sip-tester with apt-get"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: kamailio (with http_client and json modules) and sipp are needed, and apt-get is not available" >&2
    exit 2
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends kamailio kamailio-utils-modules kamailio-json-modules sip-tester
  find_modules || { echo "error: http_client.so/json.so not found after installing" >&2; exit 2; }
fi
echo "== $(kamailio -v | head -1), $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -1), modules in $MODDIR"

if [ -z "${SHAKEN:-}" ]; then
  echo "== building shaken (release)"
  cargo build --locked --release
  SHAKEN="${CARGO_TARGET_DIR:-$ROOT/target}/release/shaken"
fi
[ -x "$SHAKEN" ] || { echo "error: $SHAKEN is not an executable" >&2; exit 2; }

WORK=$(mktemp -d /tmp/shaken-kamailio.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "(logs kept in $WORK)"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSED=0
FAILED=0
ok()  { PASSED=$((PASSED + 1)); echo "ok   - $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }

# A port (UDP or TCP) nobody is bound to on this host, from a random start.
port_in_use() {
  local hex; hex=$(printf ':%04X ' "$1")
  grep -q "$hex" /proc/net/udp /proc/net/tcp /proc/net/udp6 /proc/net/tcp6 2>/dev/null
}
USED_PORTS=" "
free_port() {
  local p
  for _ in $(seq 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    case "$USED_PORTS" in *" $p "*) continue ;; esac
    if ! port_in_use "$p"; then USED_PORTS="$USED_PORTS$p "; echo "$p"; return 0; fi
  done
  echo "no free port" >&2; return 1
}
udp_bound() { grep -q "$(printf '0100007F:%04X ' "$1")" /proc/net/udp; }
wait_udp() {
  for _ in $(seq 100); do udp_bound "$1" && return 0; sleep 0.1; done
  return 1
}

# --- shaken serve (signing + verification, lab PKI, nothing fetched) -------
umask 077
KEY="kamailio-ci-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$KEY" > "$WORK/api-keys"
umask 022
start_serve() { # NAME [extra flags...]: sets SERVE_URL
  local name=$1; shift
  "$SHAKEN" serve --listen 127.0.0.1:0 --cert certs/sp-chain.pem --trust-anchors certs/root.pem \
    --key certs/sp.key.pem --x5u https://cr.example.net/sp.pem "$@" 2> "$WORK/$name.log" &
  PIDS+=($!)
  local addr=""
  for _ in $(seq 100); do
    addr=$(sed -n 's/^listening on \(127\.0\.0\.1:[0-9]*\)$/\1/p' "$WORK/$name.log" | head -1)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { cat "$WORK/$name.log" >&2; echo "error: shaken serve did not start" >&2; exit 1; }
  SERVE_URL="http://$addr"
}
start_serve serve --api-keys "$WORK/api-keys"
URL=$SERVE_URL
start_serve serve-open          # no keys (loopback): Kamailio's keep-alive path
URL_OPEN=$SERVE_URL
echo "== shaken serve on $URL (API keys) and $URL_OPEN (open, loopback)"

# --- Kamailio instances -------------------------------------------------------
UAS_PORT=$(free_port)
UAC_PORT=$(free_port)
start_kamailio() { # NAME CFG PORT NEXT_HOP_PORT SHAKEN_URL [more -A defines...]
  local name=$1 cfg=$2 port=$3 next=$4 url=$5; shift 5
  local defs=() d
  for d in "$@"; do defs+=(-A "$d"); done
  mkdir -p "$WORK/$name"
  kamailio -f "examples/kamailio/$cfg" -DD -E -Y "$WORK/$name" -L "$MODDIR" \
    -A "LISTEN=udp:127.0.0.1:$port" -A "NEXT_HOP=\"sip:127.0.0.1:$next\"" \
    -A "SHAKEN_URL=\"$url\"" "${defs[@]}" > "$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  if ! wait_udp "$port"; then
    cat "$WORK/$name.log" >&2
    echo "error: kamailio $name did not start" >&2
    exit 1
  fi
}
TERM_PORT=$(free_port); REJ_PORT=$(free_port); ORIG_PORT=$(free_port)
DEAD_PORT=$(free_port); DEAD_HTTP=$(free_port); OPEN_PORT=$(free_port)
start_kamailio term termination.cfg "$TERM_PORT" "$UAS_PORT" "$URL" "SHAKEN_API_KEY=\"$KEY\""
start_kamailio term-reject termination.cfg "$REJ_PORT" "$UAS_PORT" "$URL" "SHAKEN_API_KEY=\"$KEY\"" REJECT_FAILED
start_kamailio orig origination.cfg "$ORIG_PORT" "$TERM_PORT" "$URL" "SHAKEN_API_KEY=\"$KEY\""
start_kamailio term-dead termination.cfg "$DEAD_PORT" "$UAS_PORT" "http://127.0.0.1:$DEAD_HTTP" "SHAKEN_API_KEY=\"$KEY\""
start_kamailio term-open termination.cfg "$OPEN_PORT" "$UAS_PORT" "$URL_OPEN" CHILDREN=1
HANG_PORT=""
if command -v python3 >/dev/null 2>&1; then
  # A service that accepts connections and never answers.
  HANG_HTTP=$(free_port)
  python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); c=[]
while True: c.append(s.accept()[0])' "$HANG_HTTP" &
  PIDS+=($!)
  HANG_PORT=$(free_port)
  start_kamailio term-hang termination.cfg "$HANG_PORT" "$UAS_PORT" "http://127.0.0.1:$HANG_HTTP" "SHAKEN_API_KEY=\"$KEY\""
fi
echo "== kamailio: termination :$TERM_PORT, termination REJECT_FAILED :$REJ_PORT, origination :$ORIG_PORT -> :$TERM_PORT," \
     "termination with a dead service :$DEAD_PORT${HANG_PORT:+, with a hung service :$HANG_PORT}, keep-alive :$OPEN_PORT; UAS :$UAS_PORT"

# --- calls ---------------------------------------------------------------------
A=+12155550121      # caller
B=+12125550143      # callee
sign() { "$SHAKEN" sign --key certs/sp.key.pem --x5u https://cr.example.net/sp.pem --orig "$1" --dest "$2" --attest "${3:-A}"; }
now_date() { LC_ALL=C date -u -d "@$(( $(date +%s) + ${1:-0} ))" '+%a, %d %b %Y %H:%M:%S GMT'; }
N=0
# call NAME KAMAILIO_PORT SCENARIO FROM ID_HDR PAI_HDR DATE_HDR
# Runs the UAS (the next hop) and one UAC call; sets RC (UAC exit status),
# ARRIVED (the INVITE as the UAS saw it, empty if none) and SECONDS_TAKEN.
call() {
  local name=$1 port=$2 scen=$3 from=$4 idh=$5 paih=$6 dateh=$7
  N=$((N + 1))
  local msg="$WORK/uas-$N.msg" t0 t1
  timeout 25 sipp -sf examples/kamailio/sipp/uas.xml -i 127.0.0.1 -p "$UAS_PORT" -m 1 -nostdin \
    -timeout 20s -trace_msg -message_file "$msg" > "$WORK/uas-$N.out" 2>&1 &
  local uas=$!
  PIDS+=($uas)
  wait_udp "$UAS_PORT" || true
  t0=$(date +%s%N)
  RC=0
  timeout 20 sipp "127.0.0.1:$port" -sf "examples/kamailio/sipp/$scen" -i 127.0.0.1 -p "$UAC_PORT" -m 1 \
    -nostdin -timeout 15s -timeout_error -recv_timeout 12000 \
    -key from "$from" -key to "$B" -key id_hdr "$idh" -key pai_hdr "$paih" -key date_hdr "$dateh" \
    -trace_err -error_file "$WORK/uac-$N.err" > "$WORK/uac-$N.out" 2>&1 || RC=$?
  t1=$(date +%s%N)
  SECONDS_TAKEN=$(( (t1 - t0) / 1000000 ))
  # The UAS ends after the ACK; one that got no INVITE is stopped here.
  for _ in $(seq 30); do kill -0 "$uas" 2>/dev/null || break; sleep 0.1; done
  kill "$uas" 2>/dev/null || true
  wait "$uas" 2>/dev/null || true
  ARRIVED=""
  if [ -f "$msg" ]; then
    ARRIVED=$(awk '/^INVITE sip:/{p=1} p&&/^\r?$/{exit} p' "$msg" | tr -d '\r')
  fi
}
# The header the verstat belongs on: P-Asserted-Identity, else From.
caller_line() {
  local l
  l=$(printf '%s\n' "$ARRIVED" | grep -i '^P-Asserted-Identity:' | head -1 || true)
  [ -n "$l" ] || l=$(printf '%s\n' "$ARRIVED" | grep -i '^From:' | head -1 || true)
  printf '%s' "$l"
}
expect_verstat() { # NAME VERSTAT ("none": no verstat at all)
  local line; line=$(caller_line)
  if [ "$RC" -ne 0 ] || [ -z "$ARRIVED" ]; then
    bad "$1: the call did not complete (sipp exit $RC); $(tail -3 "$WORK/uac-$N.out" 2>/dev/null | tr '\n' ' ')"
  elif [ "$2" = none ] && ! printf '%s' "$line" | grep -q 'verstat='; then
    ok "$1: delivered without verstat: $line"
  elif [ "$2" != none ] && printf '%s' "$line" | grep -q ";verstat=$2[@;>]" \
       && [ "$(printf '%s' "$line" | grep -o 'verstat=' | wc -l)" -eq 1 ]; then
    ok "$1: $line"
  else
    bad "$1: expected verstat=$2, got: ${line:-(no caller header)}"
  fi
}
NOID="X-No-Identity: -"
NOPAI="X-No-PAI: -"
NODATE="X-No-Date: -"
PAI="P-Asserted-Identity: <sip:$A@127.0.0.1;user=phone>"

echo "== checks"
ID=$(sign "$A" "$B")
call signed "$TERM_PORT" uac.xml "$A" "Identity: $ID" "$PAI" "$NODATE"
expect_verstat "signed call (P-Asserted-Identity)" TN-Validation-Passed

ID2=$(sign "$A" "$B" B)
call signed-from "$TERM_PORT" uac.xml "$A" "Identity: $ID2" "$NOPAI" "Date: $(now_date)"
expect_verstat "signed call, no PAI, with Date (verstat on From)" TN-Validation-Passed

ID3=$(sign "$A" "$B")
call spoofed "$TERM_PORT" uac.xml "+12155559999" "Identity: $ID3" "$NOPAI" "$NODATE"
# shaken answers 438 orig-mismatch with No-TN-Validation (the PASSporT says
# nothing about this caller)
expect_verstat "spoofed caller ID (PASSporT of another number) does not pass" No-TN-Validation

ID4=$(sign "$A" "$B")
call spoofed-reject "$REJ_PORT" uac-reject.xml "+12155559999" "Identity: $ID4" "$NOPAI" "$NODATE"
if [ "$RC" -eq 0 ] && [ -z "$ARRIVED" ]; then
  ok "spoofed caller ID with REJECT_FAILED: 438 with Reason cause=438, not forwarded"
else
  bad "spoofed caller ID with REJECT_FAILED: sipp exit $RC, forwarded: $([ -n "$ARRIVED" ] && echo yes || echo no)"
fi

call unsigned "$TERM_PORT" uac.xml "$A" "$NOID" "$PAI" "$NODATE"
expect_verstat "unsigned call" No-TN-Validation

call forged "$TERM_PORT" uac.xml "$A;verstat=TN-Validation-Passed" "$NOID" "$NOPAI" "$NODATE"
expect_verstat "unsigned call with a forged ;verstat=TN-Validation-Passed in From" No-TN-Validation

ID5=$(sign "$A" "$B")
call stale "$TERM_PORT" uac.xml "$A" "Identity: $ID5" "$PAI" "Date: $(now_date -600)"
expect_verstat "Date 10 minutes old (403 Stale Date) does not pass" No-TN-Validation

call replay "$TERM_PORT" uac.xml "$A" "Identity: $ID" "$PAI" "Date: $(now_date -30)"
expect_verstat "a PASSporT replayed on another call does not pass" TN-Validation-Failed

call quoted "$TERM_PORT" uac.xml "$A" "Identity: $(sign "$A" "$B" | sed 's/ppt=shaken/ppt="shaken"/')" "$PAI" "$NODATE"
expect_verstat "signed call with ppt=\"shaken\" quoted (JSON escaping)" TN-Validation-Passed

call hostile "$TERM_PORT" uac.xml "$A" "Identity: x\\\"}],\"identity\":\"y" "$PAI" "$NODATE"
expect_verstat "Identity value with JSON metacharacters: not sent to the service, not passed" No-TN-Validation

call e2e "$ORIG_PORT" uac.xml "$A" "$NOID" "$PAI" "$NODATE"
expect_verstat "origination then termination, end to end" TN-Validation-Passed
if printf '%s\n' "$ARRIVED" | grep -q '^Identity: [A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*;info=<https://cr.example.net/sp.pem>;alg=ES256;ppt=shaken$'; then
  ok "origination added the Identity header"
else
  bad "origination: no Identity header arrived"
fi

call dead "$DEAD_PORT" uac.xml "$A" "Identity: $(sign "$A" "$B")" "$PAI" "$NODATE"
expect_verstat "dead service (connection refused) does not block the call" none

if [ -n "$HANG_PORT" ]; then
  call hung "$HANG_PORT" uac.xml "$A" "Identity: $(sign "$A" "$B")" "$PAI" "$NODATE"
  expect_verstat "hung service does not block the call" none
  if [ "$SECONDS_TAKEN" -lt 4000 ]; then
    ok "hung service: the call waited ${SECONDS_TAKEN} ms (the 1 s timeout), not longer"
  else
    bad "hung service: the call took ${SECONDS_TAKEN} ms"
  fi
fi

for i in 1 2 3; do
  call "keepalive-$i" "$OPEN_PORT" uac.xml "$A" "Identity: $(sign "$A" "$B")" "$PAI" "$NODATE"
  expect_verstat "keep-alive path (http_connect, no key), call $i" TN-Validation-Passed
done
# every request of the one-worker instance came over the same client port
PEERS=$(sed -n 's/.*peer=\(127\.0\.0\.1:[0-9]*\) .*path=\/stir\/v1\/verification.*/\1/p' "$WORK/serve-open.log" | sort -u | wc -l)
if [ "$PEERS" -eq 1 ]; then
  ok "keep-alive: 3 verifications over one connection"
else
  bad "keep-alive: 3 verifications over $PEERS connections"
fi

if grep -q 'auth="api-key-' "$WORK/serve.log"; then
  bad "a Kamailio request was refused by the API key check"
else
  ok "every request to the keyed service carried a valid API key"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
