import Foundation
import GatehouseTesting

/// A hostile (or merely unusual) HTTP/2 client: Python's `h2` package for the state machine and
/// `hyperframe` for frames `h2` refuses to write, on a raw socket. One mode per run; it prints
/// what the server did, as JSON.
enum HTTP2Peer {
    static let fileName = "h2_peer.py"

    /// Runs `mode` against the plaintext listener at `port`, requests naming `host`.
    static func run(_ mode: String, port: Int, host: String, in directory: URL) async throws -> [String: Any] {
        try await PythonPackages.ensure(module: "h2", requirement: "h2==4.4.1")
        let script = directory.appendingPathComponent(fileName)
        try source.write(to: script, atomically: true, encoding: .utf8)
        let result = try await PythonPackages.runOffPool(["python3", script.path, mode, String(port), host])
        let object = try? JSONSerialization.jsonObject(with: Data(result.output.utf8))
        return (object as? [String: Any]) ?? ["unparsed": result.output, "exit": Int(result.status)]
    }

    static let source = #"""
        import json, socket, sys, threading
        import h2.config, h2.connection, h2.events
        from h2.frame_buffer import FrameBuffer
        from hpack import Encoder
        from hyperframe.frame import ContinuationFrame, DataFrame, GoAwayFrame, HeadersFrame, PingFrame, SettingsFrame

        mode, port, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        HEAD = [(":method", "GET"), (":scheme", "http"), (":authority", host), (":path", "/")]

        def connect():
            sock = socket.create_connection(("127.0.0.1", port))
            sock.settimeout(20)
            config = h2.config.H2Configuration(
                client_side=True, header_encoding="utf-8", validate_outbound_headers=False,
                normalize_outbound_headers=False, validate_inbound_headers=False)
            conn = h2.connection.H2Connection(config=config)
            conn.initiate_connection()
            sock.sendall(conn.data_to_send())
            return sock, conn

        def send(sock, data):
            try:
                sock.sendall(data)
                return True
            except OSError:
                return False

        def flood(build, count):
            """Sends `count` frames from `build(i)` while a thread reads; reports the GOAWAY and the close."""
            sock, conn = connect()
            seen = {"goaway": None, "closed": False, "frames": 0}
            def read():
                frames = FrameBuffer(server=False)
                frames.max_frame_size = 1 << 24
                try:
                    while True:
                        data = sock.recv(65536)
                        if not data:
                            break
                        frames.add_data(data)
                        for frame in frames:
                            seen["frames"] += 1
                            if isinstance(frame, GoAwayFrame):
                                seen["goaway"] = frame.error_code
                except OSError:
                    pass
                seen["closed"] = True
            reader = threading.Thread(target=read)
            reader.start()
            sent = 0
            for i in range(count):
                if not send(sock, build(conn, i)):
                    break
                sent += 1
            reader.join(30)
            seen["sent"] = sent
            return seen

        def rapid_reset(conn, i):
            stream = conn.get_next_available_stream_id()
            conn.send_headers(stream, HEAD, end_stream=True)
            conn.reset_stream(stream)
            return conn.data_to_send()

        ENCODER = Encoder()
        def continuation(conn, i):
            if i == 0:
                return HeadersFrame(1, data=ENCODER.encode(HEAD)).serialize()  # no END_HEADERS
            return ContinuationFrame(1, data=ENCODER.encode([("x-filler-%d" % i, "a" * 64)])).serialize()

        def ping(conn, i):
            return PingFrame(0, opaque_data=i.to_bytes(8, "big")).serialize()

        def settings(conn, i):
            return SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 65535}).serialize()

        def empty_data(conn, i):
            if i == 0:
                conn.send_headers(1, [(":method", "POST"), (":scheme", "http"), (":authority", host), (":path", "/echo")])
                return conn.data_to_send()
            return DataFrame(1, data=b"").serialize()

        def one_request(headers):
            """One request on a fresh connection: `status N`, `reset CODE` or `goaway CODE`."""
            sock, conn = connect()
            conn.send_headers(1, headers, end_stream=True)
            send(sock, conn.data_to_send())
            try:
                while True:
                    data = sock.recv(65536)
                    if not data:
                        return "closed"
                    for event in conn.receive_data(data):
                        if isinstance(event, h2.events.ResponseReceived) and event.stream_id == 1:
                            return "status " + dict(event.headers)[":status"]
                        if isinstance(event, h2.events.StreamReset) and event.stream_id == 1:
                            return "reset %d" % event.error_code
                        if isinstance(event, h2.events.ConnectionTerminated):
                            return "goaway %d" % event.error_code
                    send(sock, conn.data_to_send())
            except OSError as error:
                return "error " + str(error)
            finally:
                sock.close()

        if mode == "malformed":
            base = HEAD + [("x-case", "1")]
            cases = {
                "well-formed": HEAD,
                "uppercase name": HEAD + [("X-Upper", "1")],
                "connection": HEAD + [("connection", "keep-alive")],
                "keep-alive": HEAD + [("keep-alive", "timeout=5")],
                "transfer-encoding": HEAD + [("transfer-encoding", "chunked")],
                "upgrade": HEAD + [("upgrade", "websocket")],
                "te gzip": HEAD + [("te", "gzip")],
                "te trailers": HEAD + [("te", "trailers")],
                "pseudo after regular": [(":method", "GET"), (":scheme", "http"), ("x-a", "1"), (":authority", host), (":path", "/")],
                "unknown pseudo": HEAD + [(":foo", "bar")],
                "no path": [(":method", "GET"), (":scheme", "http"), (":authority", host)],
                "host differs": HEAD + [("host", "other.default.localhost")],
                "host same": HEAD + [("host", host.upper())],
                "connect": [(":method", "CONNECT"), (":authority", host)],
                "extended connect": [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", "/"), (":authority", host)],
            }
            print(json.dumps({name: one_request(headers) for name, headers in cases.items()}))
        else:
            attacks = {"rapid-reset": (rapid_reset, 1000), "continuation": (continuation, 10000), "ping": (ping, 5000),
                       "settings": (settings, 5000), "empty-data": (empty_data, 100)}
            build, count = attacks[mode]
            print(json.dumps(flood(build, count)))
        """#
}
