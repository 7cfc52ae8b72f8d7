#!/usr/bin/env bash
# A/B of two (or more) gatehouse binaries on the plain forwarding path, alternated, as the
# "by hand" rows of docs/performance.md measure: the gateway and its nginx "hello" function pinned
# to CPU 0 (one event loop, access log off), wrk -t1 -c32 on CPU 1 for DURATION s after 2 s of
# warm-up; CPU time of the gateway process ÷ requests. No peers: compare the binaries with each
# other, in the same run.
#
#   scripts/bench-ab.sh before=path/to/gatehouse after=.build/release/gatehouse
#   ROUNDS=5 DURATION=10 scripts/bench-ab.sh a=… b=…
#
# Everything listens on 127.0.0.1:18190/18191 and is stopped by pid.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
(($# > 0)) || { echo "usage: $0 label=binary [label=binary ...]" >&2; exit 2; }
for tool in wrk nginx taskset curl; do command -v "$tool" >/dev/null || { echo "$tool is missing ($SHARED_BENCH/lib/install.sh)" >&2; exit 2; }; done

source "$ROOT/scripts/lib/bench-common.sh" && warn_about_port_tables
WORK=$(mktemp -d /tmp/gatehouse-ab.XXXXXX)
chmod 755 "$WORK"  # as root the function runs under a user of its own and must reach its script
cp "$SHARED_BENCH/lib/hello-function.sh" "$WORK/hello.sh" && chmod 755 "$WORK/hello.sh"
write_hello_function "$WORK/hello.yaml" "$WORK/hello.sh"
GATEWAY=
trap '[[ -n $GATEWAY ]] && kill "$GATEWAY" 2>/dev/null; rm -rf "$WORK"' EXIT
# The harness's 622-byte bearer token header, as every proxy target gets it.
TOKEN=$(head -c 622 /dev/zero | tr '\0' 'a')
HZ=$(getconf CLK_TCK)

run() { # label binary
  local label=$1 bin=$2 state="$WORK/state-$1-$RANDOM"
  taskset -c 0 "$bin" up -f "$WORK/hello.yaml" --state-dir "$state" --ingress 127.0.0.1:18190 --admin 127.0.0.1:18191 \
    --event-loops 1 --access-log off --log-level warning >"$WORK/$label.log" 2>&1 &
  GATEWAY=$!
  for _ in $(seq 1 300); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Host: hello.default.localhost' http://127.0.0.1:18190/ || true) == 200 ]] && break
    sleep 0.1
  done
  local load=(taskset -c 1 wrk -t1 -c32 -H "Authorization: Bearer $TOKEN" -H 'Host: hello.default.localhost' http://127.0.0.1:18190/)
  "${load[@]}" -d2s >/dev/null
  local before after out
  before=$(awk '{print $14 + $15}' "/proc/$GATEWAY/stat")
  out=$("${load[@]}" -d"${DURATION}s" --latency)
  after=$(awk '{print $14 + $15}' "/proc/$GATEWAY/stat")
  local requests rps p99 hwm
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  hwm=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$GATEWAY/status")
  kill -TERM "$GATEWAY" && wait "$GATEWAY" || true
  GATEWAY=
  python3 -c "print(f'$label: {($after - $before) / $HZ * 1e6 / $requests:.1f} us/req  $rps req/s  p99 $p99  peak RSS $hwm MiB')"
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  for pair in "$@"; do run "${pair%%=*}" "${pair#*=}"; done
done
