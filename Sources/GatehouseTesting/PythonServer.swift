import Foundation

/// A test peer written in Python (`python3 -c SOURCE PORT`) on a free loopback port, started once
/// it answers `readyPath` with 200. A free port can be taken by a parallel test before the peer
/// binds it: then the peer exits, and it is started again on another.
final class PythonServer: @unchecked Sendable {
    let port: Int
    let process: Process

    static func start(
        _ source: String, readyPath: String, headers: [(String, String)] = [], name: String
    ) async throws -> PythonServer {
        for _ in 0..<3 {
            let server = try PythonServer(source: source, port: LoopbackPort.free())
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline, server.process.isRunning {
                if let response = try? await RunningGatehouse.send(
                    url: "http://127.0.0.1:\(server.port)\(readyPath)", host: nil, method: .GET, headers: headers, body: nil),
                   response.status == 200 { return server }
                try await Task.sleep(for: .milliseconds(50))
            }
            server.stop()
        }
        throw OIDCProvider.Unavailable(description: "\(name) did not start")
    }

    private init(source: String, port: Int) throws {
        self.port = port
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", source, String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// SIGKILL: the test runner's threads block SIGTERM, and children inherit that mask.
    func stop() { LoopbackPort.kill(process) }
}
