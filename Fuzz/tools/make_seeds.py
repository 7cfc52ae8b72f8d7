#!/usr/bin/env python3
"""Writes the request-head seed corpus (Fuzz/corpus/request-head). Run again after editing; the
names are stable so git shows what changed. Each seed is the raw bytes of one client connection."""
import os

H = "Host: hello.default.localhost\r\n"
SEEDS = {
    "get": "GET / HTTP/1.1\r\n" + H + "\r\n",
    "get-query": "GET /api/v1/items?x=1&y=%2F HTTP/1.1\r\n" + H + "User-Agent: fuzz\r\n\r\n",
    "http10-no-host": "GET /docs HTTP/1.0\r\n\r\n",
    "post-cl": "POST /submit HTTP/1.1\r\n" + H + "Content-Length: 5\r\n\r\nhello",
    "post-chunked": "POST /submit HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n",
    "cl-te": "POST / HTTP/1.1\r\n" + H + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
    "te-cl": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
    "te-Chunked": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
    "te-gzip-chunked": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "te-twice": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
    "te-obs-fold": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
    "te-space-colon": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "cl-duplicate": "POST / HTTP/1.1\r\n" + H + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "cl-comma": "POST / HTTP/1.1\r\n" + H + "Content-Length: 3, 3\r\n\r\nabc",
    "cl-plus": "POST / HTTP/1.1\r\n" + H + "Content-Length: +3\r\n\r\nabc",
    "bare-lf": "GET / HTTP/1.1\n" + H.replace("\r\n", "\n") + "\n",
    "trace-body": "TRACE / HTTP/1.1\r\n" + H + "Content-Length: 4\r\n\r\nbody",
    "get-body": "GET /x HTTP/1.1\r\n" + H + "Content-Length: 4\r\n\r\nbody",
    "fragment": "GET /admin#x HTTP/1.1\r\n" + H + "\r\n",
    "fragment-empty": "GET /admin# HTTP/1.1\r\n" + H + "\r\n",
    "pct00": "GET /a%00b HTTP/1.1\r\n" + H + "\r\n",
    "dot-segments": "GET /docs/../admin/./x/%2e%2e/%2E/y HTTP/1.1\r\n" + H + "\r\n",
    "backslash": "GET /a\\..\\admin HTTP/1.1\r\n" + H + "\r\n",
    "pct-unreserved": "GET /%61dmin/%7euser/%2f%5c HTTP/1.1\r\n" + H + "\r\n",
    "regex-route": "GET /v2/items/42 HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
    "canary-header": "GET / HTTP/1.1\r\nHost: hello\r\nX-Canary: 1\r\n\r\n",
    "absolute-form": "GET http://hello.default.localhost/admin#frag HTTP/1.1\r\nHost: other\r\n\r\n",
    "absolute-https": "GET HTTPS://Api.Example.COM:8443?q HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute-userinfo": "GET http://user@evil/ HTTP/1.1\r\n" + H + "\r\n",
    "options-star": "OPTIONS * HTTP/1.1\r\n" + H + "\r\n",
    "connect": "CONNECT hello.default.localhost:443 HTTP/1.1\r\n" + H + "\r\n",
    "upgrade-websocket": "GET /ws HTTP/1.1\r\n" + H + "Connection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
    "upgrade-h2c": "GET / HTTP/1.1\r\n" + H + "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    "host-trailing-dot": "GET / HTTP/1.1\r\nHost: Hello.Default.Localhost.:8080\r\n\r\n",
    "host-two-dots": "GET / HTTP/1.1\r\nHost: hello.default.localhost..\r\n\r\n",
    "host-ipv6": "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
    "host-ipv6-bad": "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n",
    "host-twice": "GET / HTTP/1.1\r\n" + H + "Host: evil\r\n\r\n",
    "host-empty": "GET / HTTP/1.1\r\nHost: \r\n\r\n",
    "host-wildcard": "GET / HTTP/1.1\r\nHost: a.b.EXAMPLE.com\r\n\r\n",
    "host-userinfo": "GET / HTTP/1.1\r\nHost: user@hello:80\r\n\r\n",
    "pipelined": "GET /1 HTTP/1.1\r\n" + H + "\r\nPOST /2 HTTP/1.1\r\n" + H + "Content-Length: 2\r\n\r\nhiGET /admin HTTP/1.1\r\nHost: hello\r\n\r\n",
    "pipelined-chunked": "POST /1 HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nTrailer: x\r\n\r\nGET /docs/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
    "http09": "GET /\r\n\r\n",
    "http2-preface": "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "long-header": "GET / HTTP/1.1\r\n" + H + "X-Long: " + "a" * 300 + "\r\n\r\n",
    # Findings, kept as seeds so later runs start from them.
    "finding-host-empty-label": "GET / HTTP/1.1\r\nHost: hello.default.localhost..\r\n\r\n",
    "finding-query-fragment": "GET /docs/../?dmidmin#x HTTP/1.1\r\nHost: htl\r\n\r\n",
    "finding-cl-trailing-space": "POST /2 HTTP/1.1\r\n" + H + "Content-Length:2 \r\n\r\nhi",
    "finding-te-trailing-space": "POST / HTTP/1.1\r\nHost: hest\r\nTransfer-Encoding: Chunked \r\n\r\n000000000001844",
    "review-double-escape": "GET /a/%%32%65%%32%65/admin HTTP/1.1\r\nHost: hello\r\n\r\n",
    "xfcc-forged": "GET / HTTP/1.1\r\n" + H + "X-Forwarded-Client-Cert: By=spiffe://cluster.local/ns/x/sa/y\r\n\r\n",
}

def main():
    out = os.path.join(os.path.dirname(__file__), "..", "corpus", "request-head")
    os.makedirs(out, exist_ok=True)
    for name, text in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(text.encode("latin-1"))

main()
