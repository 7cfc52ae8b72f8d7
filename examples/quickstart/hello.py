"""The quickstart function: a small HTTP server on $PORT, the Knative / Cloud Run contract."""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hello(BaseHTTPRequestHandler):
    # HTTP/1.1, so Gatehouse keeps its connections to this instance alive.
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({
            "message": os.environ.get("GREETING", "hello") + " from " + os.environ.get("K_SERVICE", "?"),
            "revision": os.environ.get("K_REVISION"),
            "pid": os.getpid(),
            "requestId": self.headers.get("x-request-id"),
        }).encode() + b"\n"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("hello: " + fmt % args, flush=True)


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello).serve_forever()
