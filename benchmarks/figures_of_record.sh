#!/bin/sh
# Issue 16's figures, one command after the other (run it on a quiet machine; ~20 minutes):
#   benchmarks/figures_of_record.sh OUT_DIR [PY_SPY]
# OUT_DIR gets each run's JSON and log and a `progress` file (time and load per step).
# With PY_SPY (the path of a py-spy executable), a one-per-request run, a batched run and a
# catch-up are also profiled; read them with benchmarks/profile_top.py.
set -u
O=${1:?usage: $0 OUT_DIR [PY_SPY]}
SPY=${2:-}
cd "$(dirname "$0")/.."
mkdir -p "$O"
T=.venv/bin/tianfu
PY=.venv/bin/python
log() { echo "$(date +%T) $* load=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$O/progress"; }
log start "$(git rev-parse --short HEAD 2>/dev/null)"
for i in 1 2; do
  $T bench --validators 4 --duration 30 --json "$O/one-$i.json" > "$O/one-$i.log" 2>&1; log one-$i
  $T bench --validators 4 --duration 30 --batch 50 --json "$O/batch-$i.json" > "$O/batch-$i.log" 2>&1; log batch-$i
done
half() { $PY -c "import json,sys;print(round(max(json.load(open(f))['tps'] for f in sys.argv[1:])/2))" "$@"; }
R1=$(half "$O/one-1.json" "$O/one-2.json")
R2=$(half "$O/batch-1.json" "$O/batch-2.json")
$T bench --validators 4 --duration 30 --rate "$R1" --json "$O/half-one.json" > "$O/half-one.log" 2>&1; log half-one "$R1"
$T bench --validators 4 --duration 30 --batch 50 --rate "$R2" --json "$O/half-batch.json" > "$O/half-batch.log" 2>&1; log half-batch "$R2"
prof() {
  name=$1; shift
  $T bench --validators 4 --duration 40 "$@" --json "$O/prof-$name.json" > "$O/prof-$name.log" 2>&1 &
  B=$!
  P=""
  while [ -z "$P" ]; do sleep 1; P=$(pgrep -f "tianfu-bench-.*/org2/node2" | head -1); done
  until grep -q "starting the load-generator" "$O/prof-$name.log"; do sleep 1; done
  sleep 27  # signing ahead and the warm-up: the record falls in the 40 s measured
  "$SPY" record -p "$P" --duration 20 --rate 100 --nonblocking --format raw -o "$O/prof-$name.txt" > "$O/prof-$name-spy.log" 2>&1
  wait $B; log prof-$name
}
if [ -n "$SPY" ]; then
  prof one
  prof batch --batch 50
fi
$PY benchmarks/catchup.py --mode inproc --blocks 10000 --txs-per-block 5 --rounds 2 --json "$O/catchup.json" > "$O/catchup.log" 2>&1; log catchup
if [ -n "$SPY" ]; then
  $PY benchmarks/catchup.py --mode inproc --blocks 10000 --txs-per-block 5 --rounds 1 > "$O/catchup-prof.log" 2>&1 &
  B=$!
  P=""
  while [ -z "$P" ]; do sleep 1; P=$(pgrep -f "catchup.py --sync-child" | head -1); done
  "$SPY" record -p "$P" --rate 100 --nonblocking --threads --format raw -o "$O/prof-catchup.txt" > "$O/prof-catchup-spy.log" 2>&1
  wait $B; log prof-catchup
fi
$T bench sweep --state-sizes 10000,10000000 --rounds 1 --duration 15 --warmup 4 --json "$O/sweep-state.json" --plot "$O/sweep-state.png" > "$O/sweep-state.log" 2>&1; log sweep-state
log done
