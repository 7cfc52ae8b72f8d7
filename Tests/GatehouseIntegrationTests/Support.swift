import Foundation
import GatehouseTesting
import Testing

/// A `Function` document running the test fixture (see `FunctionFixture`).
func fixtureFunction(
    name: String = "fn", namespace: String = "default", scaling: String = "", spec: String = "",
    env: [(String, String)] = []
) -> String {
    var text = """
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata:
          name: \(name)
          namespace: \(namespace)
        spec:
          process:
            command: ["python3", "\(FunctionFixture.fileName)"]

        """
    if !env.isEmpty {
        text += "    env:\n"
        for (key, value) in env { text += "      - {name: \(key), value: \"\(value)\"}\n" }
    }
    if !scaling.isEmpty { text += "  scaling: {\(scaling)}\n" }
    if !spec.isEmpty { text += spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n" }
    return text
}

/// Starts Gatehouse, runs `body`, and always stops it (and its functions) afterwards.
/// `prepare` writes what the config needs (another fixture) into the directory before the start.
func withGatehouse(
    _ config: String, arguments: [String] = [], prepare: ((URL) throws -> Void)? = nil,
    _ body: (RunningGatehouse) async throws -> Void
) async throws {
    var directory: URL?
    if let prepare {
        let prepared = try RunningGatehouse.makeTemporaryDirectory()
        try prepare(prepared)
        directory = prepared
    }
    let gatehouse = try await RunningGatehouse.start(config: config, arguments: arguments, directory: directory)
    do {
        try await body(gatehouse)
    } catch {
        _ = try? await gatehouse.stop()
        print("--- gatehouse stderr ---\n\(gatehouse.stderr)")
        throw error
    }
    try await gatehouse.stop()
    gatehouse.removeDirectory()
}

extension RunningGatehouse {
    /// `gatehouse ca issue` for `id` into a new directory of the test's (`cert.pem`, `key.pem`, `bundle.pem`).
    func issueSVID(_ id: String) async throws -> URL {
        let directory = self.directory.appendingPathComponent("svid-\(UUID().uuidString.prefix(6))")
        let result = try await cli(["ca", "issue", "--spiffe-id", id, "--out", directory.path])
        #expect(result.status == 0, "\(result.stderr)")
        return directory
    }
}

extension RunningGatehouse.Response {
    var pid: Int32? { (json["pid"] as? Int).map(Int32.init) }
    var errorCode: String? { json["code"] as? String }
}

extension RunningGatehouse {
    /// Waits until the function's pool gauge `name` (`gatehouse_function_inflight_requests`,
    /// `gatehouse_function_queue_depth`, …) reads `value`: how a test knows a request it sent has
    /// reached an instance, or is queued, before it sends the next one. Never a sleep.
    func waitForGauge(_ name: String, function: String, toBe value: Double) async throws {
        _ = try await eventually("\(name){function=\"\(function)\"} to read \(value)") {
            sample(try await metrics(), name, containing: ["function=\"\(function)\""]) == value ? true : nil
        }
    }

    /// The fixture's `/hold?until=…` path for `name`: the request stays in flight until `release(name)`.
    func held(_ name: String) -> String {
        "/hold?until=" + directory.appendingPathComponent("release-\(name)").path
    }

    /// Lets every request held under `name` answer.
    func release(_ name: String) {
        _ = FileManager.default.createFile(atPath: directory.appendingPathComponent("release-\(name)").path, contents: Data())
    }

    /// Waits until `count` requests of the function are being served by its instances.
    func waitForInFlight(_ function: String, count: Double = 1) async throws {
        try await waitForGauge("gatehouse_function_inflight_requests", function: function, toBe: count)
    }

    /// Waits until `count` requests of the function wait in its queue for an instance.
    func waitForQueued(_ function: String, count: Double = 1) async throws {
        try await waitForGauge("gatehouse_function_queue_depth", function: function, toBe: count)
    }
}

/// The value of one sample line in a Prometheus exposition, matched by name and label fragments.
func sample(_ exposition: String, _ name: String, containing fragments: [String] = []) -> Double? {
    for line in exposition.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
        guard fragments.allSatisfy({ line.contains($0) }), let value = line.split(separator: " ").last else { continue }
        return Double(value)
    }
    return nil
}
