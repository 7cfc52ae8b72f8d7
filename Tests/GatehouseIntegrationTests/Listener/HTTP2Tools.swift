import Foundation

/// Real HTTP/2 clients (curl, h2load) run off the shared thread pool, as `PythonPackages` does.
enum HTTP2Tools {
    struct CurlResult {
        var exit: Int32
        var status: Int
        var version: String
        var headers: [String: String]
        var body: String
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]) ?? [:] }
    }

    /// `curl` with `arguments` (at least the URL); the status, the HTTP version it spoke, the
    /// response headers (lower-case names) and the body.
    static func curl(_ arguments: [String], in directory: URL) async throws -> CurlResult {
        let headerFile = directory.appendingPathComponent("curl-headers-\(UUID().uuidString.prefix(8))")
        let bodyFile = directory.appendingPathComponent("curl-body-\(UUID().uuidString.prefix(8))")
        let (exit, output) = try await run(
            ["curl", "-sS", "--max-time", "60", "-D", headerFile.path, "-o", bodyFile.path, "-w", "%{http_code} %{http_version}"] + arguments)
        let words = output.split(separator: " ")
        var headers: [String: String] = [:]
        for line in ((try? String(contentsOf: headerFile, encoding: .utf8)) ?? "").split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        // Decoded leniently: a binary body (a gRPC message's length prefix) is still searchable.
        let body = (try? Data(contentsOf: bodyFile)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return CurlResult(
            exit: exit, status: words.first.flatMap { Int($0) } ?? 0, version: words.count > 1 ? String(words[1]) : "",
            headers: headers, body: body)
    }

    /// Runs a command; its exit status and standard output (standard error is dropped).
    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                    process.arguments = arguments
                    let output = Pipe()
                    process.standardOutput = output
                    process.standardError = FileHandle.nullDevice
                    process.standardInput = FileHandle.nullDevice
                    try process.run()
                    let data = output.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
                })
            }
        }
    }
}
