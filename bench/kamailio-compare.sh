#!/usr/bin/env bash
# Side by side (issue 19): the termination job of examples/kamailio/termination.cfg
#   - done by Kamailio's secsipid module (bench/kamailio-secsipid.cfg,
#     secsipid_check_identity with certs/sp.pem),
#   - done by shaken serve through http_client, keep-alive (http_connect, no key),
#   - done by shaken serve through http_client with an API key
#     (http_client_query: a new connection per INVITE),
#   - and by the same Kamailio forwarding without any check (the baseline the
#     added latency is measured against).
# For each: the INVITE->200 time at a fixed rate (median and p99, SIPp
# -trace_rtt), then the highest rate of a ladder that keeps failed calls
# within 1 % (a call fails when it times out or arrives without
# verstat=TN-Validation-Passed: the UAS answers 403 then).
#
#   bench/kamailio-compare.sh [SECONDS_PER_STEP] [LATENCY_RATE] [RATES...]
#   (defaults: 10 s, 200 calls/s, ladder 400 800 1600 3200 4800 6400 8000)
#
# Loopback only. Not run by CI (minutes of full load on every core). Needs
# kamailio, kamailio-utils-modules, kamailio-json-modules,
# kamailio-secsipid-modules and sip-tester; installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${1:-10}
LAT_RATE=${2:-200}
shift $(( $# > 2 ? 2 : $# )) || true
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(400 800 1600 3200 4800 6400 8000)

for c in kamailio sipp python3; do
  command -v $c >/dev/null 2>&1 || { echo "error: $c is needed (apt-get install kamailio kamailio-utils-modules kamailio-json-modules kamailio-secsipid-modules sip-tester)" >&2; exit 1; }
done
SHAKEN=${SHAKEN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/shaken}
[ -x "$SHAKEN" ] || { echo "error: build shaken first (cargo build --locked --release) or set SHAKEN" >&2; exit 1; }
SECSIPID=1
if ! kamailio -f bench/kamailio-secsipid.cfg -c -A LISTEN=udp:127.0.0.1:5999 -A 'NEXT_HOP="sip:127.0.0.1:5998"' \
     -A "CERT=\"$ROOT/certs/sp.pem\"" >/dev/null 2>&1; then
  echo "warning: the secsipid module does not load (apt-get install kamailio-secsipid-modules); measuring shaken only" >&2
  SECSIPID=0
fi

WORK=$(mktemp -d /tmp/shaken-kamailio-bench.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ "${KEEP_WORK:-0}" = 1 ] && echo "(files in $WORK)" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() { grep -q "$(printf ':%04X ' "$1")" /proc/net/udp /proc/net/tcp 2>/dev/null; }
USED=" "
free_port() {
  local p
  for _ in $(seq 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    case "$USED" in *" $p "*) continue ;; esac
    port_in_use "$p" || { USED="$USED$p "; echo "$p"; return 0; }
  done
  return 1
}
wait_udp() { for _ in $(seq 100); do grep -q "$(printf '0100007F:%04X ' "$1")" /proc/net/udp && return 0; sleep 0.1; done; return 1; }
stop() { kill "$1" 2>/dev/null || true; for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$1" 2>/dev/null || true; }

A=+12155550121
B=+12125550143
KEY="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$KEY" > "$WORK/api-keys"

start_serve() { # NAME [flags]: sets SERVE_URL SERVE_PID
  "$SHAKEN" serve --listen 127.0.0.1:0 --cert certs/sp-chain.pem --trust-anchors certs/root.pem \
    --key certs/sp.key.pem --x5u https://cr.example.net/sp.pem "${@:2}" 2> "$WORK/$1.log" &
  SERVE_PID=$!
  PIDS+=($SERVE_PID)
  local addr=""
  for _ in $(seq 100); do
    addr=$(sed -n 's/^listening on \(127\.0\.0\.1:[0-9]*\)$/\1/p' "$WORK/$1.log" | head -1)
    [ -n "$addr" ] && break; sleep 0.1
  done
  [ -n "$addr" ] || { cat "$WORK/$1.log" >&2; exit 1; }
  SERVE_URL="http://$addr"
}

# Fresh PASSporTs (iat now, random origid), one per call: bare tokens, a
# SIPp injection file.
tokens() { # COUNT FILE
  local now; now=$(date +%s)
  python3 -c 'import sys
n, now = int(sys.argv[1]), sys.argv[2]
line = "{\"attest\":\"A\",\"dest\":{\"tn\":[\"+12125550143\"]},\"iat\":%s,\"orig\":{\"tn\":\"+12155550121\"}}\n" % now
sys.stdout.write(line * n)' "$1" "$now" \
    | "$SHAKEN" sign --batch - --key certs/sp.key.pem --x5u https://cr.example.net/sp.pem 2>/dev/null \
    | python3 -c 'import sys, json
print("SEQUENTIAL")
for l in sys.stdin:
    print(json.loads(l)["identity"].split(";")[0])' > "$2"
}

# One step: RATE calls/s for SECS s against Kamailio on KPORT. Prints
# "total ok failed p50_ms p99_ms".
step() { # KPORT RATE SECS UAS_SCENARIO TAG
  local kport=$1 rate=$2 secs=$3 uas_scen=$4 tag=$5
  local n=$(( rate * secs )) d="$WORK/$tag"
  mkdir -p "$d"
  tokens "$n" "$d/ids.csv"
  local uport uacport; uport=$UAS_PORT; uacport=$(free_port)
  ( cd "$d" && exec timeout $(( secs + 60 )) sipp -sf "$ROOT/examples/kamailio/sipp/$uas_scen" -i 127.0.0.1 -p "$uport" \
      -nostdin -bind_local > uas.out 2>&1 ) &
  local uas=$!
  wait_udp "$uport"
  ( cd "$d" && timeout $(( secs + 60 )) sipp "127.0.0.1:$kport" -sf "$ROOT/examples/kamailio/sipp/uac-bench.xml" \
      -i 127.0.0.1 -p "$uacport" -inf ids.csv -r "$rate" -m "$n" -l $(( rate * 5 + 100 )) -nostdin \
      -recv_timeout 5000 -timeout $(( secs + 40 ))s -key from "$A" -key to "$B" \
      -trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 100 -trace_err > uac.out 2>&1 ) || true
  stop "$uas"; wait "$uas" 2>/dev/null || true
  python3 - "$d" "$n" <<'EOF'
import sys, glob, csv
d, n = sys.argv[1], int(sys.argv[2])
ok = failed = 0
rows = list(csv.reader(open(d + "/stat.csv"), delimiter=";"))
h = rows[0]
last = rows[-1]
ok = int(last[h.index("SuccessfulCall(C)")])
failed = int(last[h.index("FailedCall(C)")])
rt = []
for f in glob.glob(d + "/*_rtt.csv"):
    for r in csv.reader(open(f), delimiter=";"):
        try:
            # Date_ms;response_time_ms;rtd_no (whole ms: SIPp's clock
            # ticks in ms, so this cannot resolve sub-ms differences)
            rt.append(float(r[1]))
        except (ValueError, IndexError):
            pass
rt.sort()
def q(p):
    return rt[min(len(rt) - 1, int(p * len(rt)))] if rt else float("nan")
# calls that never ended count as failed too
failed = max(failed, n - ok)
# the rate SIPp achieved: calls created over the run's elapsed time
hh, mm, ss = (int(x) for x in last[h.index("ElapsedTime(C)")].split(":")[:3])
elapsed = max(1, hh * 3600 + mm * 60 + ss)
print(n, ok, failed, "%g" % q(0.50), "%g" % q(0.99), "%.0f" % (n / elapsed))
EOF
}

UAS_PORT=$(free_port)
run_config() { # NAME KPORT UAS_SCENARIO
  local name=$1 kport=$2 scen=$3 r out best="" before
  before=$(wc -l < "$WORK/$name.kamailio.log")
  out=$(step "$kport" "$LAT_RATE" "$SECS" "$scen" "$name-lat")
  # the time the check itself took inside Kamailio, per INVITE (us=...)
  out="$out $(tail -n +$(( before + 1 )) "$WORK/$name.kamailio.log" | sed -n 's/.* us=\([0-9]*\).*/\1/p' \
    | sort -n | awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; if (NR) printf "%d %d %d", v[int((NR+1)/2)], v[i], NR; else print "- - 0"}')"
  echo "$name latency@$LAT_RATE $out" | tee -a "$WORK/results"
  for r in "${RATES[@]}"; do
    out=$(step "$kport" "$r" "$SECS" "$scen" "$name-$r")
    echo "$name rate@$r $out" | tee -a "$WORK/results"
    read -r total okc failed _ _ achieved <<< "$out"
    # sustained: at most 1 % failed, and SIPp kept (within 5 %) the rate
    if [ $(( failed * 100 )) -le "$total" ] && [ $(( achieved * 100 )) -ge $(( r * 95 )) ]; then
      best=$r
    else
      break
    fi
  done
  echo "$name sustains ${best:-<${RATES[0]}}" | tee -a "$WORK/results"
}

start_kamailio() { # NAME CFG PORT [defines...]: sets KAM_PID
  local name=$1 cfg=$2 port=$3; shift 3
  local defs=() x
  for x in "$@"; do defs+=(-A "$x"); done
  mkdir -p "$WORK/$name.run"
  # -m: shared memory (MB) for the transactions of a few seconds at full rate
  kamailio -f "$cfg" -DD -E -Y "$WORK/$name.run" -m 512 -A "LISTEN=udp:127.0.0.1:$port" \
    -A "NEXT_HOP=\"sip:127.0.0.1:$UAS_PORT\"" "${defs[@]}" > "$WORK/$name.kamailio.log" 2>&1 &
  KAM_PID=$!
  PIDS+=($KAM_PID)
  wait_udp "$port" || { cat "$WORK/$name.kamailio.log" >&2; exit 1; }
}

echo "== $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $(kamailio -v | head -1); $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -1); $SECS s per step, latency at $LAT_RATE calls/s, ladder ${RATES[*]}"
echo "== columns: calls ok failed p50_ms p99_ms achieved_calls_per_s (INVITE->200 at the UAC, SIPp -trace_rtt);"
echo "   latency rows add: p50_us p99_us n (time the check took inside Kamailio, logged per INVITE)"

P=$(free_port); start_kamailio baseline bench/kamailio-secsipid.cfg "$P" NO_STIR
run_config baseline "$P" uas.xml; stop "$KAM_PID"

if [ "$SECSIPID" = 1 ]; then
  P=$(free_port); start_kamailio secsipid bench/kamailio-secsipid.cfg "$P" "CERT=\"$ROOT/certs/sp.pem\""
  run_config secsipid "$P" uas-verstat.xml; stop "$KAM_PID"
fi

start_serve serve-open
P=$(free_port); start_kamailio shaken-keepalive examples/kamailio/termination.cfg "$P" "SHAKEN_URL=\"$SERVE_URL\""
run_config shaken-keepalive "$P" uas-verstat.xml; stop "$KAM_PID"; stop "$SERVE_PID"

start_serve serve-keys --api-keys "$WORK/api-keys"
P=$(free_port); start_kamailio shaken-apikey examples/kamailio/termination.cfg "$P" "SHAKEN_URL=\"$SERVE_URL\"" "SHAKEN_API_KEY=\"$KEY\""
run_config shaken-apikey "$P" uas-verstat.xml; stop "$KAM_PID"; stop "$SERVE_PID"

echo
echo "| configuration | INVITE->200 p50 / p99 ms @$LAT_RATE/s (SIPp) | check inside Kamailio p50 / p99 us @$LAT_RATE/s | failed @$LAT_RATE/s | calls/s within 1 % failures |"
echo "|---|---|---|---|---|"
python3 - "$WORK/results" <<'EOF'
import sys
lat, best = {}, {}
for l in open(sys.argv[1]):
    f = l.split()
    if f[1].startswith("latency@"):
        lat[f[0]] = f[2:]
    elif f[1] == "sustains":
        best[f[0]] = f[2]
for name in ["baseline", "secsipid", "shaken-keepalive", "shaken-apikey"]:
    if name not in lat:
        continue
    total, ok, failed, p50, p99, _, u50, u99, n = lat[name]
    inside = "-" if name == "baseline" else "%s / %s (n=%s)" % (u50, u99, n)
    print("| %s | %s / %s | %s | %s of %s | %s |" % (name, p50, p99, inside, failed, total, best.get(name, "?")))
EOF
