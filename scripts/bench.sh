#!/usr/bin/env bash
# Gatehouse beside Envoy and nginx, same machine, same run: the shared harness (../shared/bench)
# with Gatehouse as its `external` target, then the ratios. See docs/performance.md.
#
#   scripts/bench.sh                      # release build, 3 interleaved rounds of all targets (~10 min)
#   ROUNDS=1 TARGETS="envoy external" scripts/bench.sh
#   ACCESS_LOG=stdout scripts/bench.sh    # with Gatehouse's access log on (the peers log nothing)
#   SKIP_BUILD=1 GATEHOUSE_BIN=path/to/gatehouse scripts/bench.sh
#   PROFILE=jwt TARGETS="envoy-jwt external" scripts/bench.sh
#                                         # Gatehouse with the harness's JWT rule and role check
#                                         # (RequestAuthentication + AuthorizationPolicy) beside envoy-jwt
#   PROFILE=vs1|vs100 TARGETS="envoy external" scripts/bench.sh
#                                         # through a VirtualService of 1 or 100 routes (timeout, retries)
#   PROFILE=split TARGETS="envoy external" scripts/bench.sh
#                                         # the host split 50/50 between two revisions (spec.traffic)
#   PROFILE=trace1|trace100 TARGETS="envoy external" scripts/bench.sh
#                                         # spans exported over OTLP/HTTP at 1 % or 100 % sampling, to a
#                                         # collector that discards them (on the load generator's core)
#
# Not part of CI. Everything listens on 127.0.0.1 and is stopped by pid by the harness.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
source "$ROOT/scripts/lib/bench-common.sh" && warn_about_port_tables
WORK=${BENCH_DIR:-$(mktemp -d /tmp/gatehouse-bench.XXXXXX)}
mkdir -p "$WORK"
# As root, the hello function runs under a user of its own (docs/security.md): it must reach its script.
chmod 755 "$WORK"
export SWIFT_DETERMINISTIC_HASHING=1

[[ -d $SHARED_BENCH ]] || { echo "no bench harness at $SHARED_BENCH (set SHARED_BENCH)" >&2; exit 2; }
if [[ ${SKIP_BUILD:-0} != 1 ]]; then (cd "$ROOT" && swift build -c release --product gatehouse --static-swift-stdlib); fi
BIN=${GATEHOUSE_BIN:-$ROOT/.build/release/gatehouse}
[[ -x $BIN ]] || { echo "no gatehouse binary at $BIN" >&2; exit 2; }

# The harness writes beside itself: work on a copy.
rm -rf "$WORK/bench" && cp -r "$SHARED_BENCH" "$WORK/bench" && chmod -R u+w "$WORK/bench"
missing=0
for tool in nginx wrk h2load; do command -v "$tool" >/dev/null || missing=1; done
python3 -c 'import envoy' 2>/dev/null || missing=1
((missing == 0)) || "$WORK/bench/lib/install.sh"

# The same nginx "hello" upstream the peers proxy to, run by Gatehouse as a process function,
# kept warm, one instance (the peers have one upstream too).
write_hello_function "$WORK/hello.yaml" "$WORK/bench/lib/hello-function.sh"

# PROFILE=jwt: what envoy-jwt does (jwt_authn with the harness's issuer and audience, RBAC on
# iss and role=invoker), said in Istio's kinds. The harness's key material is made here first, in
# the work directory it will use, so the inline JWKS is the one its tokens are signed with.
if [[ ${PROFILE:-} == jwt ]]; then
  export BENCH_WORK=$WORK/harness
  bash "$WORK/bench/lib/gen-material.sh" "$BENCH_WORK/pki" >/dev/null
  JWKS=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$BENCH_WORK/pki/jwks.json")
  cat >>"$WORK/hello.yaml" <<YAML
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: bench, namespace: default}
spec:
  jwtRules:
  - issuer: https://issuer.bench.local
    audiences: [gateway-bench]
    jwks: '$JWKS'
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-invoker, namespace: default}
spec:
  rules:
  - from: [{source: {requestPrincipals: ["https://issuer.bench.local/*"]}}]
    when: [{key: "request.auth.claims[role]", values: [invoker]}]
YAML
fi

# PROFILE=vs1 / vs100: the same requests through a VirtualService — one route, or 99 routes that
# do not match (each a prefix and a header condition) before the one that does — with a timeout
# and a retry policy on it: what routing and resilience cost per request.
if [[ ${PROFILE:-} == vs1 || ${PROFILE:-} == vs100 ]]; then
  {
    printf -- '---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: hello, namespace: default}\n'
    printf 'spec:\n  hosts: [hello]\n  gateways: [bench]\n  http:\n'
    if [[ $PROFILE == vs100 ]]; then
      for i in $(seq 1 99); do
        printf '  - match: [{uri: {prefix: /never-%d/}, headers: {x-route: {exact: "r%d"}}}]\n    route: [{destination: {host: hello}}]\n' "$i" "$i"
      done
    fi
    printf '  - name: main\n    timeout: 10s\n    retries: {attempts: 2, retryOn: "5xx,reset"}\n    route: [{destination: {host: hello}}]\n'
  } >>"$WORK/hello.yaml"
fi

# PROFILE=trace1 / trace100: a mesh-wide Telemetry exporting spans to an OTLP/HTTP collector that
# accepts and discards them, run on the load generator's core so the gateway's core pays only for
# building, encoding and posting spans.
if [[ ${PROFILE:-} == trace1 || ${PROFILE:-} == trace100 ]]; then
  percent=${PROFILE#trace}
  cat >>"$WORK/hello.yaml" <<YAML
---
apiVersion: gatehouse.dev/v1
kind: Mesh
metadata: {name: mesh}
spec:
  extensionProviders:
  - name: otel
    opentelemetry: {service: 127.0.0.1, port: 18490, http: {path: /v1/traces}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing: [{providers: [{name: otel}], randomSamplingPercentage: $percent}]
YAML
  taskset -c 1 python3 -c '
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
ThreadingHTTPServer(("127.0.0.1", 18490), Sink).serve_forever()' &
  collector=$!
  trap 'kill $collector 2>/dev/null' EXIT
fi

mkdir -p "$WORK/run" "$WORK/results"
cd "$WORK/run"

# PROFILE=split: two revisions of hello sharing its host 50/50 (Knative's spec.traffic), each with
# its own warm instance. Revision 1 is made by a short earlier start on the same state directory.
if [[ ${PROFILE:-} == split ]]; then
  rm -rf "$WORK/run/state"
  sed 's|process: {command: \["\(.*\)"\]}|process: {command: ["\1"], env: [{name: BENCH_REVISION, value: "1"}]}|' "$WORK/hello.yaml" >"$WORK/hello-1.yaml"
  sed 's|value: "1"|value: "2"|' "$WORK/hello-1.yaml" >"$WORK/hello.yaml"
  printf '  traffic: [{revisionName: hello-00001, percent: 50}, {latestRevision: true, percent: 50}]\n' >>"$WORK/hello.yaml"
  "$BIN" up -f "$WORK/hello-1.yaml" --state-dir "$WORK/run/state" --ingress 127.0.0.1:18090 --admin 127.0.0.1:18091 \
    --log-level warning >"$WORK/revision-1.log" 2>&1 &
  first=$!
  for _ in $(seq 1 100); do [[ -s $WORK/run/state/endpoints.json ]] && break; sleep 0.1; done
  kill -TERM "$first" && wait "$first" || true
fi
# One event loop, as Envoy runs with --concurrency 1 and nginx with one worker.
export EXTERNAL_CMD="$BIN up -f $WORK/hello.yaml --state-dir $WORK/run/state --ingress 127.0.0.1:18090 \
--admin 127.0.0.1:18091 --event-loops 1 --access-log ${ACCESS_LOG:-off} --log-level warning"
export EXTERNAL_PORT=18090 EXTERNAL_HOST=hello.default.localhost RESULTS_DIR="$WORK/results"
ROUNDS=${ROUNDS:-3} "$WORK/bench/run.sh" ${TARGETS:-all}

python3 - "$WORK"/results/run-*.jsonl <<'PY'
import json, statistics, sys
rows = [json.loads(l) for p in sys.argv[1:] for l in open(p) if l.strip()]
by = {}
for r in rows:
    if r.get("kind") == "proxy" and r.get("ok"):
        by.setdefault(r["target"], []).append(r)
def med(target, key):
    xs = [r[key] for r in by.get(target, []) if r.get(key) is not None]
    return statistics.median(xs) if xs else None
g = {k: med("external", k) for k in ("rps", "proxy_cpu_us_per_req", "p50_ms", "p99_ms", "lat_p50_ms")}
print("\nGatehouse (external) against the peers, medians over rounds:")
for peer in ("envoy", "nginx"):
    rps, cpu = med(peer, "rps"), med(peer, "proxy_cpu_us_per_req")
    if rps and g["rps"]:
        line = f"  vs {peer}: throughput x{g['rps'] / rps:.2f}"
        if cpu and g["proxy_cpu_us_per_req"]:
            line += f", proxy CPU per request x{g['proxy_cpu_us_per_req'] / cpu:.2f} (lower is better)"
        print(line)
PY
echo "results: $WORK/results"
