"""An event subscriber: Knative delivers CloudEvents in binary mode, as ce- headers and a body."""
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Orders(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        print(f"orders: {self.headers['ce-type']} {self.headers['ce-id']} from {self.headers['ce-source']}: {body.decode()}", flush=True)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Orders).serve_forever()
