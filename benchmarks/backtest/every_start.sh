#!/usr/bin/env bash
# Replays ten tasks of benchmarks/README.md from every start used there ("Since 2026-11-25",
# the table of means) and writes each task's starts.json under OUT (default bt-every-start).
# Run from the repository root after `make reproduce` has fetched and derived the data in
# bt-reproduce/ (Elec2, OpenML's Elec2, Covertype, the busy-hour and daily files). ~40 min.
set -euo pipefail
OUT=${1:-bt-every-start}
SHARED=${SHARED:-../shared/data}
R=.venv/bin/retrainer B=benchmarks/backtest W=bt-reproduce
BEIJING=src/retrainer/demo/data/beijing_pm25_2010_2014.csv.gz
P="--policies never,always,periodic:4,auto,periodic:auto"
mkdir -p "$OUT"
run() {
  local name=$1; shift
  local began=$SECONDS
  $R backtest "$@" $P --output "$OUT/$name" > "$OUT/$name.log"
  echo "$name: $((SECONDS - began)) s"
}
run elec2 $W/elec2.csv --target class --time-column time --batch 7D --config $B/elec2.yaml \
  --initial 21D,28D,35D,42D
run openml $W/elec2_openml.csv --target class --batch 336 --initial 1008,1344,1680,2016
run bike "$SHARED/bike_sharing_hour.csv" --target cnt --time-column dteday --batch 7D \
  --config $B/bike_sharing.yaml --initial 21D,28D,35D,42D
run beijing $BEIJING --target pm --batch 168 --config $B/beijing.yaml \
  --initial 672,756,840,924,1008,1092
run busy $W/bike_busy.csv --target busy --time-column dteday --batch 7D \
  --config $B/bike_busy.yaml --initial 21D,28D,35D,42D
run covtype $W/covtype.csv --target Cover_Type --batch 336 --initial 1008,1344,1680
run casual "$SHARED/bike_sharing_hour.csv" --target casual --time-column dteday --batch 7D \
  --config $B/bike_casual.yaml --initial 21D,28D,35D,42D
run late "$SHARED/bike_sharing_hour.csv" --target cnt --time-column dteday --batch 7D \
  --label-delay 14D --config $B/bike_sharing.yaml --initial 28D,35D,42D
run daily $W/bike_day.csv --target cnt --time-column dteday --initial 21D,28D,35D,42D
run temp $BEIJING --target TEMP --batch 168 --config $B/beijing_temp.yaml --initial 672,840,1008
