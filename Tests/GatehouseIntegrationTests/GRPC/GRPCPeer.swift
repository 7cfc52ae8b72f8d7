import Foundation
import GatehouseTesting

/// A real gRPC server and client (PyPI `grpcio`), with raw-bytes methods so no generated code is
/// needed. The server is a Function (`protocol: h2c`); the client runs one scenario per call and
/// prints what it saw as JSON.
enum GRPCPeer {
    static let serverFile = "grpc_server.py"
    static let clientFile = "grpc_client.py"

    /// Where grpcio is installed for the function as well as the client: beside the build
    /// products, readable by the unprivileged user a function runs as when the tests run as root
    /// (a Python under /root would not be), so the function names plain `python3`.
    static let packages = GatehouseBinary.url.deletingLastPathComponent().appendingPathComponent("test-python-grpc")

    static func ensureInstalled() async throws {
        guard !FileManager.default.fileExists(atPath: packages.appendingPathComponent("grpc/__init__.py").path) else { return }
        let result = try await PythonPackages.runOffPool([
            "python3", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", packages.path, "grpcio==1.85.4",
        ])
        guard result.status == 0 else { throw GRPCPeerError.installFailed(result.output) }
    }

    enum GRPCPeerError: Error { case installFailed(String) }

    /// Writes both scripts into `directory`.
    static func prepare(in directory: URL) throws {
        try serverSource.write(to: directory.appendingPathComponent(serverFile), atomically: true, encoding: .utf8)
        try clientSource.write(to: directory.appendingPathComponent(clientFile), atomically: true, encoding: .utf8)
    }

    /// A `Function` serving the test service over h2c.
    static func function(name: String = "rpc") -> String {
        """
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata: {name: \(name), namespace: default}
        spec:
          process:
            command: ["python3", "\(serverFile)"]
            protocol: h2c
            env:
              - {name: PYTHONPATH, value: "\(packages.path)"}

        """
    }

    /// Runs `scenario` against Gatehouse's plaintext ingress (`127.0.0.1:PORT`), calls naming `authority`.
    static func call(_ scenario: String, ingress: String, authority: String, in directory: URL, extra: [String] = []) async throws -> [String: Any] {
        let target = ingress.replacingOccurrences(of: "http://", with: "")
        let result = try await PythonPackages.runOffPool(
            ["env", "PYTHONPATH=\(packages.path)", "python3", directory.appendingPathComponent(clientFile).path, scenario, target, authority] + extra)
        let object = try? JSONSerialization.jsonObject(with: Data(result.output.utf8))
        return (object as? [String: Any]) ?? ["unparsed": result.output, "exit": Int(result.status)]
    }

    static let serverSource = #"""
        import json, os, time
        from concurrent import futures
        import grpc

        def unary(request, context):
            if request == b"fail":
                context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
            if request == b"hang":
                # Held until the call is cancelled (Gatehouse resets the stream at its deadline).
                while context.is_active():
                    time.sleep(0.01)
                return b""
            context.set_trailing_metadata((("x-from-function", "trailer"),))
            seen = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
            return json.dumps({"echo": request.decode(), "metadata": seen}).encode()

        def count(request, context):
            for i in range(int(request)):
                yield str(i).encode()

        def chat(requests, context):
            for message in requests:
                yield message.upper()

        handlers = grpc.method_handlers_generic_handler("test.Echo", {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "Secret": grpc.unary_unary_rpc_method_handler(unary),
            "Count": grpc.unary_stream_rpc_method_handler(count),
            "Chat": grpc.stream_stream_rpc_method_handler(chat),
        })
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        server.add_generic_rpc_handlers((handlers,))
        server.add_insecure_port("127.0.0.1:" + os.environ["PORT"])
        server.start()
        server.wait_for_termination()
        """#

    static let clientSource = #"""
        import json, queue, sys, threading
        import grpc

        scenario, target, authority = sys.argv[1], sys.argv[2], sys.argv[3]
        extra = sys.argv[4:]
        channel = grpc.insecure_channel(target, options=[("grpc.default_authority", authority)])
        out = {}

        def failure(error):
            return {"code": error.code().name, "details": error.details(),
                    "trailing": {k: v for k, v in (error.trailing_metadata() or ()) if isinstance(v, str)},
                    "initial": {k: v for k, v in (error.initial_metadata() or ()) if isinstance(v, str)}}

        def unary(method, request, metadata=(), timeout=30):
            call = channel.unary_unary(method)
            try:
                response, info = call.with_call(request, metadata=metadata, timeout=timeout)
                return {"code": "OK", "response": response.decode(),
                        "initial": {k: v for k, v in info.initial_metadata() if isinstance(v, str)},
                        "trailing": {k: v for k, v in info.trailing_metadata() if isinstance(v, str)}}
            except grpc.RpcError as error:
                return failure(error)

        if scenario == "calls":
            out["unary"] = unary("/test.Echo/Unary", b"world", metadata=(("x-custom", "yes"),))
            out["status"] = unary("/test.Echo/Unary", b"fail")
            try:
                out["count"] = [m.decode() for m in channel.unary_stream("/test.Echo/Count")(b"5", timeout=30)]
            except grpc.RpcError as error:
                out["count"] = failure(error)
            # Each message is answered before the next is sent: the call really streams both ways.
            answers, sent = [], queue.Queue()
            def messages():
                for word in ["one", "two", "three"]:
                    yield word.encode()
                    sent.get(timeout=20)
            try:
                for reply in channel.stream_stream("/test.Echo/Chat")(messages(), timeout=30):
                    answers.append(reply.decode())
                    sent.put(True)
                out["chat"] = answers
            except grpc.RpcError as error:
                out["chat"] = failure(error)
        elif scenario == "unary":
            method = extra[0]
            metadata = tuple(tuple(pair.split("=", 1)) for pair in extra[1:])
            out = unary(method, b"world", metadata=metadata)
        elif scenario == "deadline":
            out = unary("/test.Echo/Unary", b"hang", timeout=float(extra[0]))
        print(json.dumps(out))
        """#
}
