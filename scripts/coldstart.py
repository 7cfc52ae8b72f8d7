#!/usr/bin/env python3
"""Cold-start cost: a function's own start-up (spawn until its port accepts, measured here with
a 0.5 ms probe) against the first request through Gatehouse after scale-to-zero (end to end, as
a caller sees it). The difference is what Gatehouse adds to a cold start.

    python3 scripts/coldstart.py [--gatehouse .build/release/gatehouse] [--runs 10]

Uses the quickstart function (examples/quickstart/hello.py) unless --command names another program
that serves HTTP on $PORT. Loopback only; stops what it starts.
"""
import argparse, json, os, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELLO = os.path.join(ROOT, "examples", "quickstart", "hello.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
        return True
    except OSError:
        return False


def own_startup(command, runs):
    """Spawn the function directly; time until its port accepts."""
    times = []
    for _ in range(runs):
        port = free_port()
        start = time.perf_counter()
        proc = subprocess.Popen(command, env={**os.environ, "PORT": str(port)}, start_new_session=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not accepts(port):
            time.sleep(0.0005)
        times.append((time.perf_counter() - start) * 1000)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
    return times


def through_gatehouse(binary, command, runs):
    """First request after scale-to-zero, end to end; and Gatehouse's own cold-start metric."""
    work = tempfile.mkdtemp(prefix="gatehouse-coldstart-")
    os.chmod(work, 0o755)  # as root, the function runs under a user of its own: it must reach its folder
    with open(os.path.join(work, "hello.yaml"), "w") as f:
        f.write(f"""apiVersion: gatehouse.dev/v1
kind: Function
metadata: {{name: hello}}
spec:
  process: {{command: {json.dumps(command)}}}
  idleTimeout: "1s"
""")
    state = os.path.join(work, "state")
    proc = subprocess.Popen([binary, "up", "-f", work, "--state-dir", state, "--ingress", "127.0.0.1:0",
                             "--admin", "127.0.0.1:0", "--access-log", "off", "--log-level", "warning"],
                            stdin=subprocess.DEVNULL)
    try:
        endpoints = None
        for _ in range(600):
            try:
                endpoints = json.load(open(os.path.join(state, "endpoints.json")))
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        ingress, admin = endpoints["ingress"], endpoints["admin"]
        times = []
        for _ in range(runs):
            # wait for scale to zero
            while gauge(admin, "gatehouse_function_instances") != 0:
                time.sleep(0.1)
            request = urllib.request.Request(ingress + "/", headers={"Host": "hello.default.localhost"})
            start = time.perf_counter()
            urllib.request.urlopen(request).read()
            times.append((time.perf_counter() - start) * 1000)
        metrics = urllib.request.urlopen(admin + "/metrics").read().decode()
        total = gauge_text(metrics, "gatehouse_function_cold_start_duration_seconds_sum")
        count = gauge_text(metrics, "gatehouse_function_cold_start_duration_seconds_count")
        return times, (total / count * 1000 if count else None)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def gauge(admin, name):
    return gauge_text(urllib.request.urlopen(admin + "/metrics").read().decode(), name)


def gauge_text(text, name):
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gatehouse", default=os.path.join(ROOT, ".build", "release", "gatehouse"))
    parser.add_argument("--runs", type=int, default=10)
    # Debian's python3 where there is one: a function under a user of its own cannot run an
    # interpreter kept under /root (pyenv), and both sides of the comparison should run the same one.
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    parser.add_argument("--command", nargs="+", default=[python, HELLO])
    args = parser.parse_args()
    own = own_startup(args.command, args.runs)
    cold, metric = through_gatehouse(args.gatehouse, args.command, args.runs)
    print(f"{os.path.basename(args.command[-1])} own start-up (spawn → port accepts), median of {args.runs}: {statistics.median(own):.1f} ms")
    print(f"first request after scale-to-zero through Gatehouse, median:      {statistics.median(cold):.1f} ms")
    print(f"gatehouse_function_cold_start_duration_seconds, mean:              {metric:.1f} ms")
    print(f"added by Gatehouse (median cold request − median own start-up):    {statistics.median(cold) - statistics.median(own):.1f} ms")


if __name__ == "__main__":
    main()
