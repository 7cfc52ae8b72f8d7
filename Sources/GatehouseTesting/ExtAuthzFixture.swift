import Foundation

/// An external authorizer for CUSTOM policy tests, speaking Envoy's HTTP ext_authz protocol: it
/// allows (200) a request whose check carries `x-ext-authz: allow`, and denies any other with 403,
/// a body and a header. Each answer names the path it was asked about (`x-ext-authz-path`).
/// `x-ext-authz: redirect` gets a 302 to a login page, `fail` a 500, `big` a 403 with a 100 KB body.
public final class ExtAuthzFixture: @unchecked Sendable {
    private let server: PythonServer
    public var port: Int { server.port }

    public static func start() async throws -> ExtAuthzFixture {
        ExtAuthzFixture(server: try await PythonServer.start(
            source, readyPath: "/ready", headers: [("x-ext-authz", "allow")], name: "the ext_authz fixture"))
    }

    private init(server: PythonServer) {
        self.server = server
    }

    public func stop() { server.stop() }

    deinit { stop() }

    static let source = #"""
        import sys
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def check(self):
                mode = self.headers.get("x-ext-authz")
                if mode in ("redirect", "fail", "big"):
                    status = {"redirect": 302, "fail": 500, "big": 403}[mode]
                    body = b"x" * 100000 if mode == "big" else b"internal details"
                    self.send_response(status)
                    if mode == "redirect":
                        self.send_header("location", "http://127.0.0.1:9/login")
                    self.send_header("x-internal", "secret")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                allowed = mode == "allow"
                body = b"" if allowed else ("denied by ext_authz for " + self.path).encode()
                self.send_response(200 if allowed else 403)
                self.send_header("x-ext-authz-check-result", "allowed" if allowed else "denied")
                self.send_header("x-ext-authz-path", self.path)
                self.send_header("x-ext-authz-host", self.headers.get("host", ""))
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = check

            def log_message(self, fmt, *args):
                pass

        ThreadingHTTPServer.daemon_threads = True
        ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
        """#
}
