import Foundation

/// A function for request-smuggling tests: a plain TCP server on `$PORT` with its own strict
/// HTTP/1.1 parser, which records every request it parses — method, target, headers, body — and
/// the raw bytes of every connection.
///
/// It frames bodies exactly as RFC 9112 says (a `Transfer-Encoding` whose last coding is
/// `chunked`, case-insensitively, else `Content-Length`), so a request hidden in another's body
/// by a proxy that framed it differently shows up here as a request of its own.
///
/// - any request → `200` with JSON `{"seen": N}`, N the requests parsed so far;
/// - `GET /__log` → the recorded requests (without `/__log` ones) and connections' raw bytes (base64).
public enum RecorderFixture {
    public static let fileName = "recorder_function.py"

    @discardableResult
    public static func write(into directory: URL) throws -> URL {
        let url = directory.appendingPathComponent(fileName)
        try source.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    public static let source = #"""
        import base64, json, os, socket, threading

        LOCK = threading.Lock()
        REQUESTS = []
        RAW = []

        def read_line(conn, buf):
            while b"\r\n" not in buf[0]:
                data = conn.recv(65536)
                if not data:
                    raise EOFError
                buf[0] += data
                buf[1] += data
            line, _, rest = buf[0].partition(b"\r\n")
            buf[0] = rest
            return line

        def read_exact(conn, buf, n):
            while len(buf[0]) < n:
                data = conn.recv(65536)
                if not data:
                    raise EOFError
                buf[0] += data
                buf[1] += data
            out, buf[0] = buf[0][:n], buf[0][n:]
            return out

        def serve(conn):
            buf = [b"", b""]
            index = len(RAW)
            with LOCK:
                RAW.append(b"")
            try:
                while True:
                    line = read_line(conn, buf)
                    if not line:
                        continue
                    method, target, _ = line.decode("latin1").split(" ", 2)
                    headers = []
                    while True:
                        h = read_line(conn, buf)
                        if not h:
                            break
                        name, _, value = h.decode("latin1").partition(":")
                        headers.append([name, value.strip()])
                    codings = ",".join(v for n, v in headers if n.lower() == "transfer-encoding")
                    lengths = [v for n, v in headers if n.lower() == "content-length"]
                    body = b""
                    if codings:
                        if codings.split(",")[-1].strip().lower() == "chunked":
                            while True:
                                size = int(read_line(conn, buf).split(b";")[0], 16)
                                if size == 0:
                                    while read_line(conn, buf):
                                        pass
                                    break
                                body += read_exact(conn, buf, size)
                                read_line(conn, buf)
                        else:
                            body = b"".join(iter(lambda: conn.recv(65536), b""))
                    elif lengths:
                        body = read_exact(conn, buf, int(lengths[0]))
                    with LOCK:
                        RAW[index] = buf[1]
                        if target != "/__log":
                            REQUESTS.append({"method": method, "target": target, "headers": headers,
                                             "body": base64.b64encode(body).decode()})
                        if target == "/__log":
                            payload = json.dumps({"requests": REQUESTS,
                                                  "raw": [base64.b64encode(r).decode() for r in RAW]}).encode()
                        else:
                            payload = json.dumps({"seen": len(REQUESTS)}).encode()
                    head = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                            + str(len(payload)).encode() + b"\r\n\r\n")
                    conn.sendall(head if method == "HEAD" else head + payload)
            except (EOFError, ValueError, ConnectionError, OSError):
                pass
            finally:
                with LOCK:
                    RAW[index] = buf[1]
                conn.close()

        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", int(os.environ["PORT"])))
        server.listen(64)
        while True:
            conn, _ = server.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()
        """#
}
