import Foundation

/// A function for tests: a real HTTP/1.1 server on `$PORT` whose behaviour is chosen per request
/// path (and, at start-up, by environment variables), written to disk at test time.
///
/// - `GET /` → JSON: `pid`, the Knative environment, every request header, `path`, `version` (as
///   the request line said it), `stdin_eof`, and
///   `peer_port` (the source port of the connection it came over).
/// - `GET /bytes?n=N` → N bytes (`x`), written 64 KiB at a time.
/// - `GET /sleep?ms=N` → waits N ms, then JSON with `pid`.
/// - `GET /hold?until=PATH` → answers (JSON with `pid`) once the file PATH exists (at most 120 s):
///   a request kept in flight until the test releases it (`RunningGatehouse.release`).
/// - `GET /crash` → the process exits without answering.
/// - `GET /drop-next` → answers, then drops the next request on the same connection without an
///   answer (as a server does that closes an idle kept-alive connection just as a request arrives).
/// - `GET /stop-listening` → answers (with `Connection: close`), then closes its listening socket
///   and stays alive: an instance that no longer accepts connections.
/// - `POST /echo` → JSON with the body's length and SHA-256; `POST /echo?slow=1` reads the body in
///   64 KiB pieces, 5 ms apart (a function slower than its caller).
/// - `GET /flaky?key=K&fail=N[&status=503][&mode=hang|reset]` → counts requests per key; the first
///   N answer `status` (or, with `mode=hang`, answer only after 5 s; with `mode=reset`, close the
///   connection unanswered), later ones 200. Every answer's JSON has `attempt`, the count.
/// - `GET /call?host=H&path=P` → calls function H through `GATEHOUSE_MESH_URL` with its SVID, passing
///   `x-gatehouse-hops`, `traceparent` and `tracestate` on; JSON with the status and body it got.
/// - `GET /loop` → calls itself through `GATEHOUSE_MESH_URL`, passing `x-gatehouse-hops` on, and
///   answers with the status that call got.
/// - `GET /environ` → JSON with the whole environment the process got.
/// - `GET /probe?read=PATH` → JSON `uid`, `gid`, and whether the file at PATH could be read
///   (`write=PATH`: written);
///   `GET /probe?connect=PORT` → whether a TCP connection to 127.0.0.1:PORT was accepted.
/// - `FIXTURE_FAIL_START=1` → writes to stderr and exits with status 3 before listening.
/// - `FIXTURE_START_DELAY_MS=N` → sleeps N ms before listening.
/// - `FIXTURE_TLS_CERT` / `FIXTURE_TLS_KEY` → serves HTTPS (as a remote function would); with
///   `FIXTURE_TLS_CLIENT_CA` it requires a client certificate from that CA, and `GET /` reports
///   the client certificate's names in `peer_names`.
public enum FunctionFixture {
    public static let fileName = "fixture_function.py"

    /// Writes the fixture into `directory` and returns its path.
    @discardableResult
    public static func write(into directory: URL) throws -> URL {
        let url = directory.appendingPathComponent(fileName)
        try source.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    public static let source = #"""
        import hashlib, json, os, sys, threading, time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlparse, parse_qs

        STDIN_EOF = sys.stdin.read() == ""  # Gatehouse gives functions an stdin at EOF

        if os.environ.get("FIXTURE_FAIL_START") == "1":
            print("fixture: refusing to start (FIXTURE_FAIL_START=1)", file=sys.stderr, flush=True)
            sys.exit(3)
        time.sleep(int(os.environ.get("FIXTURE_START_DELAY_MS", "0")) / 1000)

        COUNTS = {}
        LOCK = threading.Lock()

        ENV_KEYS = ["PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "FUNCTION_TARGET",
                    "FUNCTION_SIGNATURE_TYPE", "FIXTURE_CUSTOM"]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def reply(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def dropped(self):
                if getattr(self, "drop_next", False):
                    self.close_connection = True
                    return True
                return False

            def do_GET(self):
                url = urlparse(self.path)
                print("fixture: GET " + self.path + " (host " + str(self.headers.get("Host")) + ")", flush=True)
                if self.dropped():
                    return
                if url.path == "/drop-next":
                    self.drop_next = True
                    return self.reply(200, {"pid": os.getpid()})
                if url.path == "/crash":
                    os._exit(1)
                if url.path == "/stop-listening":
                    self.close_connection = True
                    body = b"{}"
                    self.send_response(200)
                    self.send_header("connection", "close")
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(body)
                    threading.Thread(target=lambda: (SERVER.shutdown(), SERVER.server_close())).start()
                    return
                if url.path == "/identity":
                    cert = os.environ.get("GATEHOUSE_SVID_CERT")
                    return self.reply(200, {
                        "pid": os.getpid(),
                        "env": {k: v for k, v in os.environ.items() if k.startswith("GATEHOUSE_")},
                        "cert": open(cert).read() if cert else None,
                    })
                if url.path == "/call":
                    # Calls another function through the mesh listener with this instance's own SVID.
                    import http.client, ssl, urllib.parse
                    query = parse_qs(url.query)
                    context = ssl.create_default_context(cafile=os.environ["GATEHOUSE_TRUST_BUNDLE"])
                    context.check_hostname = False
                    context.load_cert_chain(os.environ["GATEHOUSE_SVID"])
                    mesh = urllib.parse.urlparse(os.environ["GATEHOUSE_MESH_URL"])
                    connection = http.client.HTTPSConnection(mesh.hostname, mesh.port, context=context, timeout=10)
                    passed = {"Host": query["host"][0]}
                    # Passed on as an Istio application passes on trace headers, so the hop joins the trace.
                    for name in ["x-gatehouse-hops", "traceparent", "tracestate"]:
                        if self.headers.get(name):
                            passed[name] = self.headers[name]
                    connection.request("GET", query.get("path", ["/"])[0], headers=passed)
                    answer = connection.getresponse()
                    body = answer.read().decode()
                    return self.reply(200, {"status": answer.status, "body": body})
                if url.path == "/flaky":
                    query = parse_qs(url.query)
                    key = query.get("key", [""])[0]
                    with LOCK:
                        COUNTS[key] = COUNTS.get(key, 0) + 1
                        attempt = COUNTS[key]
                    if attempt <= int(query.get("fail", ["0"])[0]):
                        mode = query.get("mode", [""])[0]
                        if mode == "reset":
                            self.close_connection = True
                            return
                        if mode == "hang":
                            time.sleep(5)
                            return self.reply(200, {"attempt": attempt, "late": True})
                        return self.reply(int(query.get("status", ["503"])[0]), {"attempt": attempt})
                    return self.reply(200, {"attempt": attempt})
                if url.path == "/loop":
                    # Calls itself through the mesh listener, passing x-gatehouse-hops on; answers with
                    # the status the inner call got (a loop Gatehouse must end).
                    import http.client, ssl, urllib.parse
                    context = ssl.create_default_context(cafile=os.environ["GATEHOUSE_TRUST_BUNDLE"])
                    context.check_hostname = False
                    context.load_cert_chain(os.environ["GATEHOUSE_SVID"])
                    mesh = urllib.parse.urlparse(os.environ["GATEHOUSE_MESH_URL"])
                    connection = http.client.HTTPSConnection(mesh.hostname, mesh.port, context=context, timeout=20)
                    connection.request("GET", "/loop", headers={
                        "Host": self.headers["Host"], "x-gatehouse-hops": self.headers.get("x-gatehouse-hops", "")})
                    answer = connection.getresponse()
                    return self.reply(answer.status, {"inner": answer.read().decode(), "hops": self.headers.get("x-gatehouse-hops")})
                if url.path == "/environ":
                    return self.reply(200, {"environ": dict(os.environ)})
                if url.path == "/probe":
                    import socket
                    query = parse_qs(url.query)
                    result = {"uid": os.getuid(), "gid": os.getgid()}
                    if "read" in query:
                        try:
                            open(query["read"][0], "rb").read(1)
                            result["readable"] = True
                        except OSError as error:
                            result["readable"], result["error"] = False, error.strerror
                    if "write" in query:
                        try:
                            with open(query["write"][0], "w") as planted:
                                planted.write("planted")
                            result["written"] = True
                        except OSError as error:
                            result["written"], result["error"] = False, error.strerror
                    if "connect" in query:
                        try:
                            socket.create_connection(("127.0.0.1", int(query["connect"][0])), timeout=5).close()
                            result["connected"] = True
                        except OSError as error:
                            result["connected"], result["error"] = False, str(error)
                    return self.reply(200, result)
                if url.path == "/bytes":
                    count = int(parse_qs(url.query).get("n", ["0"])[0])
                    self.send_response(200)
                    self.send_header("content-type", "application/octet-stream")
                    self.send_header("content-length", str(count))
                    self.end_headers()
                    while count > 0:
                        self.wfile.write(b"x" * min(count, 65536))
                        count -= 65536
                    return
                if url.path == "/sleep":
                    time.sleep(int(parse_qs(url.query).get("ms", ["0"])[0]) / 1000)
                    return self.reply(200, {"pid": os.getpid()})
                if url.path == "/hold":
                    # Held until the test creates the file (or 120 s pass): a request that stays in
                    # flight exactly as long as the test needs, however loaded the machine is.
                    release = parse_qs(url.query).get("until", [""])[0]
                    deadline = time.time() + 120
                    while release and not os.path.exists(release) and time.time() < deadline:
                        time.sleep(0.01)
                    return self.reply(200, {"pid": os.getpid()})
                self.reply(200, {
                    "pid": os.getpid(),
                    "env": {k: os.environ.get(k) for k in ENV_KEYS},
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "path": self.path,
                    "version": self.request_version,
                    "stdin_eof": STDIN_EOF,
                    "peer_port": self.client_address[1],
                    "peer_names": [value for _, value in (getattr(self.connection, "getpeercert", lambda: None)() or {}).get("subjectAltName", ())],
                })

            def do_POST(self):
                if self.dropped():
                    return
                length = int(self.headers.get("content-length", "0"))
                if "slow=1" in self.path:
                    data = b""
                    while len(data) < length:
                        data += self.rfile.read(min(65536, length - len(data)))
                        time.sleep(0.005)
                else:
                    data = self.rfile.read(length)
                self.reply(200, {"pid": os.getpid(), "length": len(data), "sha256": hashlib.sha256(data).hexdigest()})

            def log_message(self, fmt, *args):
                pass

        ThreadingHTTPServer.daemon_threads = True
        SERVER = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
        if os.environ.get("FIXTURE_TLS_CERT"):
            import ssl
            TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            TLS.load_cert_chain(os.environ["FIXTURE_TLS_CERT"], os.environ["FIXTURE_TLS_KEY"])
            if os.environ.get("FIXTURE_TLS_CLIENT_CA"):
                TLS.load_verify_locations(os.environ["FIXTURE_TLS_CLIENT_CA"])
                TLS.verify_mode = ssl.CERT_REQUIRED
            # The handshake runs in the connection's thread, so one bad client blocks no other.
            SERVER.socket = TLS.wrap_socket(SERVER.socket, server_side=True, do_handshake_on_connect=False)
        SERVER.serve_forever()
        while True:  # no longer listening, still alive
            time.sleep(3600)
        """#
}
