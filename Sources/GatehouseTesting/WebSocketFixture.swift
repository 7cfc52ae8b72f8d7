import Foundation

/// A WebSocket function and client for tests, both on Debian's `python3-websockets` (a real
/// RFC 6455 implementation on each end; `/usr/bin/python3`, which functions run under their own
/// users can reach).
///
/// The function's first message describes the handshake it got (`path`, `x-request-id`,
/// `x-forwarded-client-cert`); then it echoes every message back with `echo:` in front.
public enum WebSocketFixture {
    public static let functionFile = "websocket_function.py"
    public static let clientFile = "websocket_client.py"
    public static let python = "/usr/bin/python3"

    /// Whether the machine has what the fixture needs.
    public static var available: Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import websockets"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    public static func write(into directory: URL) throws {
        try function.write(to: directory.appendingPathComponent(functionFile), atomically: true, encoding: .utf8)
        try client.write(to: directory.appendingPathComponent(clientFile), atomically: true, encoding: .utf8)
    }

    public static let function = #"""
        import asyncio, json, os, websockets

        async def session(ws):
            headers = ws.request_headers
            await ws.send(json.dumps({"path": ws.path, "x-request-id": headers.get("x-request-id"),
                                      "x-forwarded-client-cert": headers.get("x-forwarded-client-cert")}))
            async for message in ws:
                await ws.send("echo:" + message)

        async def main():
            async with websockets.serve(session, "127.0.0.1", int(os.environ["PORT"]), max_size=None):
                await asyncio.Future()

        asyncio.run(main())
        """#

    /// `python3 websocket_client.py URL CONNECT_PORT MODE`: MODE `echo` sends three messages (one of
    /// 256 KiB) and prints a JSON line with what came back; `idle` sends nothing and prints how the
    /// connection ended. A refused handshake prints `{"refused": STATUS}`.
    public static let client = #"""
        import asyncio, json, sys, websockets

        async def main(url, port, mode):
            try:
                async with websockets.connect(url, host="127.0.0.1", port=int(port), max_size=None,
                                              ping_interval=None, open_timeout=20, compression=None) as ws:
                    hello = json.loads(await ws.recv())
                    if mode == "idle":
                        try:
                            await asyncio.wait_for(ws.recv(), timeout=30)
                            print(json.dumps({"hello": hello, "ended": "message"}))
                        except websockets.ConnectionClosed as closed:
                            print(json.dumps({"hello": hello, "ended": "closed", "code": closed.code}))
                        except asyncio.TimeoutError:
                            print(json.dumps({"hello": hello, "ended": "timeout"}))
                        return
                    big = "x" * (256 * 1024)
                    echoes = []
                    for message in ["one", big, "three"]:
                        await ws.send(message)
                        echoes.append(await ws.recv())
                    print(json.dumps({"hello": hello, "echoes": [e if len(e) < 100 else len(e) for e in echoes]}))
            except websockets.InvalidStatusCode as refused:
                print(json.dumps({"refused": refused.status_code}))

        asyncio.run(main(*sys.argv[1:4]))
        """#
}
