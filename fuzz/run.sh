#!/usr/bin/env bash
# Run fuzz targets one after another, each for SECONDS (default 600), on one core.
#   fuzz/run.sh [SECONDS] [TARGET...]
# Needs `cargo install cargo-fuzz`. Works on stable with `-s none` (no sanitizer).
# The working corpus is fuzz/corpus/TARGET (git-ignored); the committed seeds in
# fuzz/seeds/TARGET are read too. A crash leaves fuzz/artifacts/TARGET/crash-* and
# stops the script with a non-zero status; turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"; shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
mkdir -p logs
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "seeds/$t"
  echo "== $t for ${secs}s ($(date -u +%H:%M:%S))"
  if cargo fuzz run "$t" -s none "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"logs/$t.log" 2>&1; then
    echo "   clean: $(grep -E '^stat::number_of_executed_units' "logs/$t.log" | awk '{print $2}') runs"
  else
    echo "   FAILED: see fuzz/logs/$t.log"; tail -30 "logs/$t.log"; exit 1
  fi
done
