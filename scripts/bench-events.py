#!/usr/bin/env python3
"""Events beside nothing but themselves: how fast a Broker accepts events (202 = durable), and how
long an accepted event takes to reach a warm function. See docs/performance.md ("Events").

    scripts/bench-events.py [--bin .build/release/gatehouse] [--seconds 10] [--latency-events 500]

Runs a release Gatehouse on free ports in a temporary state directory, with
  - Broker `sink`: no triggers (an event no trigger wants is acknowledged and not stored),
  - Broker `stored`: one Trigger held back by a RateLimitPolicy (one delivery an hour), so each
    202 is a durable write of the event and its delivery, and nothing else competes,
  - Broker `fanout`: one Trigger to a warm Python function that records, per event, the time from
    the `ce-sentns` attribute the publisher set to the moment the function received it;
then wrk (POST, 32 connections, binary mode) against each, and a paced publisher for latency.
Everything on 127.0.0.1; stopped by pid. Not part of CI.
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RECEIVER = r'''
import os, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
OUT = open(os.environ["LATENCY_FILE"], "a", buffering=1)
class R(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        sent = self.headers.get("ce-sentns")
        if sent: OUT.write(f"{time.time_ns() - int(sent)}\n")
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), R).serve_forever()
'''

LUA = r'''
wrk.method = "POST"
wrk.body = '{"order": 42}'
wrk.headers["Host"] = "broker-ingress.localhost"
wrk.headers["ce-specversion"] = "1.0"
wrk.headers["ce-source"] = "/bench"
wrk.headers["ce-type"] = "bench.event"
wrk.headers["content-type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  wrk.headers["ce-id"] = tostring(counter) .. "-" .. tostring(math.random(1, 1e9))
  return wrk.format(nil, PATH)
end
'''

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build/release/gatehouse"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--latency-events", type=int, default=500)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="gatehouse-events-bench.")
    os.chmod(work, 0o777)
    latency_file = os.path.join(work, "latency.txt")
    open(latency_file, "w").close()
    os.chmod(latency_file, 0o666)
    with open(os.path.join(work, "receiver.py"), "w") as f:
        f.write(RECEIVER)
    config = f'''
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {{name: sink, namespace: default}}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {{name: stored, namespace: default}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {{name: held, namespace: default}}
spec:
  broker: stored
  subscriber: {{ref: {{apiVersion: gatehouse.dev/v1, kind: Function, name: receiver}}}}
---
apiVersion: gatehouse.dev/v1
kind: RateLimitPolicy
metadata: {{name: hold, namespace: default}}
spec:
  targetRefs: [{{kind: Trigger, name: held}}]
  tokenBucket: {{maxTokens: 1, tokensPerFill: 1, fillInterval: 1h}}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {{name: fanout, namespace: default}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {{name: all, namespace: default}}
spec:
  broker: fanout
  subscriber: {{ref: {{apiVersion: gatehouse.dev/v1, kind: Function, name: receiver}}}}
---
apiVersion: gatehouse.dev/v1
kind: Function
metadata: {{name: receiver, namespace: default}}
spec:
  process:
    command: ["python3", "receiver.py"]
    env: [{{name: LATENCY_FILE, value: "{latency_file}"}}]
  scaling: {{minInstances: 1, maxInstances: 1, concurrency: 64}}
'''
    with open(os.path.join(work, "events.yaml"), "w") as f:
        f.write(config)
    ingress, admin, mesh = free_port(), free_port(), free_port()
    log = open(os.path.join(work, "gatehouse.log"), "w")
    gatehouse = subprocess.Popen(
        [args.bin, "up", "-f", os.path.join(work, "events.yaml"), "--state-dir", os.path.join(work, "state"),
         "--ingress", f"127.0.0.1:{ingress}", "--admin", f"127.0.0.1:{admin}", "--mesh", f"127.0.0.1:{mesh}",
         "--access-log", "off", "--event-loops", "1"],
        stdout=log, stderr=log)
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=1)
                break
            except Exception:
                if time.time() > deadline or gatehouse.poll() is not None:
                    sys.exit("gatehouse did not become ready; see " + log.name)
                time.sleep(0.1)
        lua = os.path.join(work, "post.lua")
        with open(lua, "w") as f:
            f.write(LUA)
        def accept_rate(broker, seconds):
            with open(lua, "w") as f:
                f.write(LUA.replace("PATH)", f'"/default/{broker}")'))
            out = subprocess.run(["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", "-s", lua, f"http://127.0.0.1:{ingress}"],
                                 capture_output=True, text=True).stdout
            rate = next((line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")), "?")
            non2xx = next((line.split()[-1] for line in out.splitlines() if "Non-2xx" in line), "0")
            p99 = next((line.split()[1] for line in out.splitlines() if line.strip().startswith("99%")), "?")
            print(f"accept into {broker:6s}: {rate} events/s, p99 {p99}, non-202 {non2xx}", flush=True)

        def queue_depth(trigger):
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics").read().decode()
            depth = [l for l in metrics.splitlines() if l.startswith("gatehouse_event_queue_depth") and f'trigger_name="{trigger}"' in l]
            return float(depth[0].split()[-1]) if depth else None

        accept_rate("sink", args.seconds)
        accept_rate("fanout", args.seconds)
        # Let the fan-out backlog drain before measuring latency on a quiet queue.
        deadline = time.time() + 300
        while time.time() < deadline and queue_depth("all") != 0:
            time.sleep(1)
        open(latency_file, "w").close()
        for i in range(args.latency_events):
            body = b'{"order": 42}'
            request = urllib.request.Request(
                f"http://127.0.0.1:{ingress}/default/fanout", data=body, method="POST",
                headers={"Host": "broker-ingress.localhost", "ce-specversion": "1.0", "ce-id": f"lat-{i}", "ce-source": "/bench",
                         "ce-type": "bench.latency", "ce-sentns": str(time.time_ns()), "content-type": "application/json"})
            urllib.request.urlopen(request).read()
            time.sleep(0.01)
        deadline = time.time() + 60
        samples = []
        while time.time() < deadline:
            samples = [int(l) for l in open(latency_file) if l.strip()]
            if len(samples) >= args.latency_events:
                break
            time.sleep(0.2)
        samples.sort()
        ms = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] / 1e6
        print(f"publish → function (warm, c1, {len(samples)} events): p50 {ms(0.5):.2f} ms, p99 {ms(0.99):.2f} ms", flush=True)
        # Last: what it stores stays (its trigger is held back), up to the store's bound of 100,000.
        accept_rate("stored", min(args.seconds, 5))
    finally:
        gatehouse.send_signal(signal.SIGTERM)
        try:
            gatehouse.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gatehouse.kill()
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
