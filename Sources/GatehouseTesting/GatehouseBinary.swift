import Foundation

/// Finds the `gatehouse` executable built beside the running tests (or `GATEHOUSE_BINARY`).
public enum GatehouseBinary {
    public static var url: URL {
        if let explicit = ProcessInfo.processInfo.environment["GATEHOUSE_BINARY"] {
            return URL(fileURLWithPath: explicit)
        }
        // Tests run from the build products directory (…/debug/GatehousePackageTests.xctest).
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("gatehouse")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/gatehouse")
    }
}
