#!/usr/bin/env bash
# Three Gatehouse nodes on one PostgreSQL (issue 19): what a cross-node hop costs, and the total a
# mesh serves with the load split over two nodes. See docs/performance.md, "A mesh of nodes".
#
#   scripts/bench-mesh.sh                         # release build, 3 rounds (~6 min)
#   SKIP_BUILD=1 GATEHOUSE_BIN=path/to/gatehouse ROUNDS=1 scripts/bench-mesh.sh
#
# Each function is the shared harness's nginx "hello" (one instance, kept warm) and runs on its home
# node only. Scenarios, each wrk -c32 for DURATION seconds, interleaved per round:
#   local        wrk → node-a for a function whose home is node-a
#   hop          wrk → node-a for a function whose home is node-b (node-a passes every request on)
#   split-local  two wrk at once: → node-a for node-a's function, → node-b for node-b's
#   split-hop    two wrk at once: → node-a and → node-b, both for node-c's function
# CPU per request is the three nodes' together (utime + stime from /proc), functions not counted.
# Not part of CI. Everything listens on 127.0.0.1 and is stopped by pid.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
source "$ROOT/scripts/lib/bench-common.sh" && warn_about_port_tables
WORK=$(mktemp -d /tmp/gatehouse-mesh-bench.XXXXXX)
chmod 755 "$WORK"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
export SWIFT_DETERMINISTIC_HASHING=1

if [[ ${SKIP_BUILD:-0} != 1 ]]; then (cd "$ROOT" && swift build -c release --product gatehouse --static-swift-stdlib); fi
BIN=${GATEHOUSE_BIN:-$ROOT/.build/release/gatehouse}
[[ -x $BIN ]] || { echo "no gatehouse binary at $BIN" >&2; exit 2; }
for tool in nginx wrk; do command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install nginx wrk)" >&2; exit 2; }; done
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -n $PGBIN ]] || { echo "PostgreSQL is missing (apt-get install postgresql)" >&2; exit 2; }
cp "$SHARED_BENCH/lib/hello-function.sh" "$WORK/hello-function.sh" && chmod 755 "$WORK/hello-function.sh"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  as_postgres "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m fast stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap "exit 130" INT TERM
as_postgres() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# PostgreSQL on loopback, trusting local connections (the password file is then not checked).
mkdir -p "$WORK/pg"
[[ $(id -u) == 0 ]] && chown postgres "$WORK/pg"
as_postgres "$PGBIN/initdb" -D "$WORK/pg/data" -U gatehouse --auth=trust >/dev/null
as_postgres "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
  -o "-p 18432 -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
echo unused >"$WORK/pg-password" && chmod 600 "$WORK/pg-password"
STORE=(--store "postgres://gatehouse@127.0.0.1:18432/postgres?sslmode=disable" --store-password-file "$WORK/pg-password")

# One function per node: the first names whose home (rendezvous hashing, docs/store-postgres.md) is each node.
read -r FA FB FC < <(python3 - <<'PY'
M = 2**64 - 1
def score(node, key):
    h = 14695981039346656037
    for b in node.encode() + b"\0" + key.encode():
        h = ((h ^ b) * 1099511628211) & M
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & M
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & M
    return h ^ (h >> 31)
nodes = ["node-a", "node-b", "node-c"]
homes = {}
for i in range(1, 200):
    name = f"hello-{i}"
    home = max(nodes, key=lambda n: score(n, f"default/{name}"))
    homes.setdefault(home, name)
print(homes["node-a"], homes["node-b"], homes["node-c"])
PY
)
for name in "$FA" "$FB" "$FC"; do
  cat <<YAML
apiVersion: gatehouse.dev/v1
kind: Function
metadata: {name: $name, namespace: default}
spec:
  process: {command: ["$WORK/hello-function.sh"]}
  scaling: {minInstances: 1, maxInstances: 1}
---
YAML
done >"$WORK/functions.yaml"

node() {  # node NAME INDEX [extra arguments]
  local name=$1 index=$2; shift 2
  "$BIN" up --state-dir "$WORK/$name" --node-name "$name" --node-heartbeat 1s "${STORE[@]}" \
    --ingress "127.0.0.1:181${index}0" --admin "127.0.0.1:181${index}1" --mesh "127.0.0.1:181${index}2" \
    --event-loops 1 --access-log off --log-level warning "$@" >"$WORK/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do [[ -s $WORK/$name/endpoints.json ]] && return; sleep 0.1; done
  echo "$name did not start; its log:" >&2; cat "$WORK/$name.log" >&2; exit 1
}
node node-a 0 -f "$WORK/functions.yaml"
for peer in b c; do
  "$BIN" nodes token create --state-dir "$WORK/node-a" --lifetime 10m >"$WORK/token-$peer"
  node "node-$peer" "$([[ $peer == b ]] && echo 1 || echo 2)" --join-token-file "$WORK/token-$peer"
done
# Every node reads the registry once a second: three reads and each names the same homes.
for _ in $(seq 1 100); do
  ready=$("$BIN" get nodes --state-dir "$WORK/node-a" -o json | python3 -c 'import json,sys; print(sum(n["state"] == "Ready" for n in json.load(sys.stdin)))')
  [[ $ready == 3 ]] && break
  sleep 0.1
done
sleep 3
for host in "$FA" "$FB" "$FC"; do
  for port in 18100 18110; do curl -sf -o /dev/null -H "Host: $host.default.localhost" "http://127.0.0.1:$port/" || { echo "warm-up of $host via $port failed" >&2; exit 1; }; done
done

cpu_ticks() { local t=0; for pid in "${pids[@]}"; do read -r -a f <"/proc/$pid/stat"; t=$((t + f[13] + f[14])); done; echo "$t"; }
wrk_run() {  # wrk_run PORT HOST OUT
  wrk -t1 -c32 -d"${DURATION}s" --latency -H "Host: $2.default.localhost" "http://127.0.0.1:$1/" >"$3"
}
report() {  # report SCENARIO ROUND TICKS FILES...
  local scenario=$1 round=$2 ticks=$3; shift 3
  python3 - "$scenario" "$round" "$ticks" "$(getconf CLK_TCK)" "$@" <<'PY' | tee -a "$WORK/results.jsonl"
import json, re, sys
scenario, rnd, ticks, hz, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
rps, p50, p99, errors = 0.0, [], [], 0
def ms(text):
    value, unit = float(re.match(r"([\d.]+)", text).group(1)), re.sub(r"[\d.]", "", text)
    return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]
for path in files:
    text = open(path).read()
    rps += float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50.append(ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)))
    p99.append(ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1)))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += int(m.group(1)) if m else 0
total = rps * float(open(files[0]).read().split("requests in ")[1].split("s,")[0]) if files else 0
cpu_us = ticks / hz * 1e6
print(json.dumps({"scenario": scenario, "round": rnd, "rps": round(rps), "p50_ms": max(p50), "p99_ms": max(p99),
                  "nodes_cpu_us_per_req": round(cpu_us / max(1, total), 1), "non_2xx": errors}))
PY
}

# What three idle nodes cost (heartbeats, registry reads, the store's catch-up), for the record.
before=$(cpu_ticks); sleep 5
echo "idle: the three nodes used $(( ($(cpu_ticks) - before) * 1000 / $(getconf CLK_TCK) / 5 )) ms of CPU per second"

for round in $(seq 1 "$ROUNDS"); do
  for scenario in local hop split-local split-hop; do
    before=$(cpu_ticks)
    case $scenario in
      local) wrk_run 18100 "$FA" "$WORK/a.txt"; files=("$WORK/a.txt") ;;
      hop) wrk_run 18100 "$FB" "$WORK/a.txt"; files=("$WORK/a.txt") ;;
      split-local) wrk_run 18100 "$FA" "$WORK/a.txt" & other=$!; wrk_run 18110 "$FB" "$WORK/b.txt"; wait "$other"; files=("$WORK/a.txt" "$WORK/b.txt") ;;
      split-hop) wrk_run 18100 "$FC" "$WORK/a.txt" & other=$!; wrk_run 18110 "$FC" "$WORK/b.txt"; wait "$other"; files=("$WORK/a.txt" "$WORK/b.txt") ;;
    esac
    report "$scenario" "$round" $(($(cpu_ticks) - before)) "${files[@]}"
  done
done

python3 - "$WORK/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("\nmedians over rounds:")
med = {}
for scenario in ("local", "hop", "split-local", "split-hop"):
    xs = [r for r in rows if r["scenario"] == scenario]
    med[scenario] = {k: statistics.median(r[k] for r in xs) for k in ("rps", "p50_ms", "p99_ms", "nodes_cpu_us_per_req")}
    print(f"  {scenario:12} {med[scenario]['rps']:>8.0f} req/s  p50 {med[scenario]['p50_ms']:.2f} ms  p99 {med[scenario]['p99_ms']:.2f} ms  "
          f"{med[scenario]['nodes_cpu_us_per_req']:.1f} µs CPU/req (nodes)")
print(f"  a hop: throughput x{med['hop']['rps'] / med['local']['rps']:.2f}, CPU per request x{med['hop']['nodes_cpu_us_per_req'] / med['local']['nodes_cpu_us_per_req']:.2f}")
PY
echo "results: $WORK/results.jsonl"
