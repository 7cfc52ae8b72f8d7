import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A real `gatehouse up` in a child process, on loopback ports chosen by the kernel, with its own
/// temporary state directory. Its stdout (the access log), stderr and files stay readable.
///
/// Always call `stop()` (or `kill()`) at the end of a test; it also ends stray function processes.
public final class RunningGatehouse: @unchecked Sendable {
    public let directory: URL
    public let stateDirectory: URL
    public private(set) var process: Process
    public private(set) var ingress: String = ""
    public private(set) var admin: String = ""
    /// `https://127.0.0.1:PORT`: the mutual TLS listener.
    public private(set) var mesh: String = ""
    public private(set) var domain: String = "localhost"
    private let stdoutURL: URL
    private let stderrURL: URL

    public struct StartFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Writes `config` (and the fixture function) into a new temporary directory and starts Gatehouse on it.
    /// With `asUser` (a uid, when the tests run as root), the directory is given to that user and
    /// Gatehouse runs as it, through `setpriv`: what an operator without root gets.
    /// `applyingConfig: false` starts it with no `-f`: it serves only what its store holds.
    public static func start(
        config: String, arguments: [String] = [], directory: URL? = nil, asUser: UInt32? = nil, applyingConfig: Bool = true
    ) async throws -> RunningGatehouse {
        let directory = try directory ?? Self.makeTemporaryDirectory()
        try config.write(to: directory.appendingPathComponent("functions.yaml"), atomically: true, encoding: .utf8)
        try FunctionFixture.write(into: directory)
        if let asUser {
            for path in [directory.path] + (FileManager.default.subpaths(atPath: directory.path) ?? []).map({ directory.appendingPathComponent($0).path }) {
                chown(path, asUser, asUser)
            }
        }
        let gatehouse = try RunningGatehouse(directory: directory, arguments: arguments, applyingConfig: applyingConfig, asUser: asUser)
        try await gatehouse.waitUntilUp()
        return gatehouse
    }

    /// Starts another Gatehouse on the same directory and state (for restart tests).
    /// `applyingConfig: false` starts it with no `-f`: it serves only what its store holds.
    public func restart(arguments: [String] = [], applyingConfig: Bool = true) async throws -> RunningGatehouse {
        let next = try RunningGatehouse(directory: directory, arguments: arguments, suffix: "-2", applyingConfig: applyingConfig)
        try await next.waitUntilUp()
        return next
    }

    private init(directory: URL, arguments: [String], suffix: String = "", applyingConfig: Bool = true, asUser: UInt32? = nil) throws {
        self.directory = directory
        self.stateDirectory = directory.appendingPathComponent("state")
        self.stdoutURL = directory.appendingPathComponent("stdout\(suffix).log")
        self.stderrURL = directory.appendingPathComponent("stderr\(suffix).log")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process = Process()
        process.executableURL = GatehouseBinary.url
        let files = applyingConfig ? ["-f", directory.appendingPathComponent("functions.yaml").path] : []
        process.arguments = ["up"] + files + [
            "--state-dir", stateDirectory.path, "--ingress", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--mesh", "127.0.0.1:0",
            "--drain-seconds", "3", "--log-level", "debug",
        ] + (arguments.contains("--node-name") ? [] : ["--node-name", Self.nodeName(for: directory)]) + arguments
        if let asUser {
            process.arguments = ["--reuid=\(asUser)", "--regid=\(asUser)", "--clear-groups", GatehouseBinary.url.path] + (process.arguments ?? [])
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        }
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// The node name a test's Gatehouse gets unless its arguments name one: from its directory, so
    /// that several on one store do not claim the same name (the host name) and a restart on the
    /// same directory is the same node.
    public static func nodeName(for directory: URL) -> String {
        let word = directory.lastPathComponent.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        return "test-" + String(word.suffix(8)).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
    }

    /// This Gatehouse's node name (`--node-name`, or the one the kit gave it).
    public var nodeName: String {
        let arguments = process.arguments ?? []
        guard let index = arguments.lastIndex(of: "--node-name"), index + 1 < arguments.count else { return Self.nodeName(for: directory) }
        return arguments[index + 1]
    }

    public static func makeTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private func waitUntilUp() async throws {
        let endpointsFile = stateDirectory.appendingPathComponent("endpoints.json")
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                throw StartFailure(description: "gatehouse exited with status \(process.terminationStatus):\n\(stderr)")
            }
            if let data = try? Data(contentsOf: endpointsFile),
               let endpoints = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               (endpoints["pid"] as? Int).map(Int32.init) == process.processIdentifier {
                ingress = endpoints["ingress"] as? String ?? ""
                admin = endpoints["admin"] as? String ?? ""
                mesh = endpoints["mesh"] as? String ?? ""
                domain = endpoints["domain"] as? String ?? "localhost"
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw StartFailure(description: "gatehouse did not write endpoints.json within 60 s:\n\(stderr)")
    }

    // MARK: Talking to it

    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: String

        /// The body as a JSON object (empty when it is not one).
        public var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        }
    }

    /// Sends a request through the ingress to `function` (`NAME` or `NAME.NAMESPACE`).
    public func request(
        _ function: String, path: String = "/", method: HTTPMethod = .GET, headers: [(String, String)] = [],
        body: [UInt8]? = nil
    ) async throws -> Response {
        let host = function.contains(".") ? "\(function).\(domain)" : "\(function).default.\(domain)"
        return try await Self.send(url: ingress + path, host: host, method: method, headers: headers, body: body)
    }

    /// The admin listener's `/metrics` text.
    public func metrics() async throws -> String {
        try await Self.send(url: admin + "/metrics", host: nil, method: .GET, headers: [], body: nil).body
    }

    /// Redirects are answers to look at, not to follow: a test sees what Gatehouse sent.
    private static let client = HTTPClient(
        eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: .init(redirectConfiguration: .disallow))

    public static func send(
        url: String, host: String?, method: HTTPMethod, headers: [(String, String)], body: [UInt8]?
    ) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let host { request.headers.add(name: "host", value: host) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: .seconds(60))
        let collected = try await response.body.collect(upTo: 64 << 20)
        return Response(status: Int(response.status.code), headers: response.headers, body: String(buffer: collected))
    }

    /// The gateway process's peak resident memory so far (`VmHWM`), in bytes.
    public var peakResidentBytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    // MARK: What it wrote

    public var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Access log lines (stdout), parsed.
    public var accessLog: [[String: Any]] {
        let text = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    /// Waits until the access log has a line for `requestId` (it is written asynchronously).
    public func accessLogLine(requestId: String) async throws -> [String: Any] {
        try await eventually("an access log line for \(requestId)") {
            accessLog.first { $0["request_id"] as? String == requestId }
        }
    }

    // MARK: Operating it

    /// The admin token `up` wrote into the state directory.
    public var adminToken: String {
        ((try? String(contentsOf: stateDirectory.appendingPathComponent("admin.token"), encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Calls the admin API; `token: nil` sends the right one, `""` none at all.
    public func api(_ path: String, method: HTTPMethod = .GET, json: String? = nil, token: String? = nil) async throws -> Response {
        let token = token ?? adminToken
        var headers: [(String, String)] = token.isEmpty ? [] : [("authorization", "Bearer \(token)")]
        if json != nil { headers.append(("content-type", "application/json")) }
        return try await Self.send(url: admin + path, host: nil, method: method, headers: headers, body: json.map { Array($0.utf8) })
    }

    /// Runs the `gatehouse` CLI against this instance (through its state directory) and waits for it.
    public func cli(_ arguments: [String], input: String? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await Self.runCLI(arguments, environment: ["GATEHOUSE_STATE_DIR": stateDirectory.path], input: input)
    }

    /// Runs the `gatehouse` binary to completion (terminating it after `timeout`) and returns its
    /// exit status and output.
    public static func runCLI(
        _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60), input: String? = nil,
        workingDirectory: URL? = nil
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out"), err = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = GatehouseBinary.url
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        if let input {
            let file = directory.appendingPathComponent("in")
            try input.write(to: file, atomically: true, encoding: .utf8)
            process.standardInput = try FileHandle(forReadingFrom: file)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8))
    }

    /// Sends a signal to the gateway process (SIGHUP to reload).
    public func signal(_ number: Int32) {
        if process.isRunning { Glibc.kill(process.processIdentifier, number) }
    }

    // MARK: Stopping

    /// SIGTERM, then waits for the process to exit (up to 30 s); returns its exit status.
    @discardableResult
    public func stop() async throws -> Int32 {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGTERM) }
        return try await waitForExit()
    }

    /// Waits for Gatehouse to exit by itself (after signals the test sent) and returns its status.
    public func exitStatus() async throws -> Int32 {
        try await waitForExit()
    }

    /// SIGKILL: Gatehouse gets no chance to stop its instances.
    public func kill() async throws {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        _ = try await waitForExit()
    }

    private func waitForExit() async throws -> Int32 {
        // Generous: a loaded 2-core machine running many suites at once stops slowly.
        do {
            _ = try await eventually("gatehouse to exit", timeout: .seconds(90)) { process.isRunning ? nil : true }
        } catch {
            // Why it did not: whether the process still runs (or only was not reaped), and what it said last.
            let pid = process.processIdentifier
            let state = processIsAlive(pid) ? "still running" : "gone or a zombie"
            Glibc.kill(pid, SIGKILL)
            throw StartFailure(description: "gatehouse (pid \(pid), \(state)) did not exit within 90 s; its last lines:\n\(stderr.suffix(3000))")
        }
        return process.terminationStatus
    }

    /// Removes the state directory; a Gatehouse still running (a test that failed before stopping
    /// it) is stopped first — SIGTERM, so it stops its instances, then SIGKILL after 10 s — so that
    /// no test leaves processes behind.
    public func removeDirectory() {
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning, ContinuousClock.now < deadline { usleep(20_000) }
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Polls `condition` until it returns a value, or fails after `timeout` (generous: the machine is shared).
public func eventually<T>(
    _ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> T?
) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try await condition() { return value }
        if ContinuousClock.now > deadline { throw RunningGatehouse.StartFailure(description: "timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(25))
    }
}

/// Whether a process with this pid exists (and is not a zombie).
public func processIsAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}
