import Foundation
import GatehouseTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An existing state directory is checked at start: a foreign owner or a symbolic link is refused,
/// access for other users is taken away (and logged).
@Suite("The state directory is checked before it is trusted", .serialized)
struct StateDirectoryTrustTests {
    static func mode(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.posixPermissions] as? Int) ?? -1
    }

    /// A test directory with `state/` made by hand, as an operator (or an attacker) might leave it.
    static func prepared(_ setUp: (URL) throws -> Void) throws -> URL {
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        let state = directory.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        try setUp(state)
        return directory
    }

    static func write(_ text: String, to url: URL, mode: Int) throws {
        try text.write(to: url, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
    }

    @Test("A world-readable admin.token, database and credentials are made owner-only at start, and the log names each")
    func repairsModes() async throws {
        let directory = try Self.prepared { state in
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: state.path)
            try Self.write("0123456789abcdef\n", to: state.appendingPathComponent("admin.token"), mode: 0o644)
            try Self.write("", to: state.appendingPathComponent("gatehouse.db"), mode: 0o666)
            let credentials = state.appendingPathComponent("credentials/site")
            try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: credentials.path)
            try Self.write("not really a key\n", to: credentials.appendingPathComponent("tls.key"), mode: 0o644)
        }
        let gatehouse = try await RunningGatehouse.start(config: fixtureFunction(name: "fn"), directory: directory)
        defer { gatehouse.removeDirectory() }
        let state = gatehouse.stateDirectory
        #expect(Self.mode(state) == 0o711, "readable and writable by nobody else, still traversable")
        #expect(Self.mode(state.appendingPathComponent("admin.token")) == 0o600)
        #expect(Self.mode(state.appendingPathComponent("gatehouse.db")) == 0o600)
        #expect(Self.mode(state.appendingPathComponent("decisions.db")) == 0o600, "created owner-only")
        #expect(Self.mode(state.appendingPathComponent("credentials/site")) == 0o700)
        #expect(Self.mode(state.appendingPathComponent("credentials/site/tls.key")) == 0o600)
        let log = gatehouse.stderr
        #expect(log.contains("repaired the mode of \(state.path)/admin.token from 0644 to 0600"), "\(log)")
        #expect(log.contains("repaired the mode of \(state.path)/gatehouse.db from 0666 to 0600"))
        #expect(log.contains("repaired the mode of \(state.path) from 0755 to 0711"))
        #expect(try await gatehouse.request("fn").status == 200)
        _ = try await gatehouse.stop()

        // Once repaired, a restart has nothing to say.
        let again = try await gatehouse.restart()
        #expect(!again.stderr.contains("repaired the mode"), "\(again.stderr)")
        _ = try await again.stop()
    }

    @Test("A state directory owned by another user is refused, naming the path, the owner and the fix",
          .enabled(if: geteuid() == 0, "needs root to give the directory away"))
    func foreignOwnerRefused() async throws {
        let directory = try Self.prepared { state in
            guard chown(state.path, 65534, 65534) == 0 else { throw POSIXError(.EPERM) }
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state").path
        let failure = await #expect(throws: RunningGatehouse.StartFailure.self) {
            _ = try await RunningGatehouse.start(config: fixtureFunction(name: "fn"), directory: directory)
        }
        let message = failure?.description ?? ""
        #expect(message.contains("refusing to use \(state): it is owned by uid 65534"), "\(message)")
        #expect(message.contains("chown -R 0 \(state)"))
        #expect(!FileManager.default.fileExists(atPath: state + "/lock"), "nothing was written into it")
    }

    @Test("A symbolic link in place of admin.token is refused, not followed")
    func symlinkRefused() async throws {
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-elsewhere-\(UUID().uuidString.prefix(6))")
        try "someone else's file\n".write(to: elsewhere, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let directory = try Self.prepared { state in
            try FileManager.default.createSymbolicLink(at: state.appendingPathComponent("admin.token"), withDestinationURL: elsewhere)
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let failure = await #expect(throws: RunningGatehouse.StartFailure.self) {
            _ = try await RunningGatehouse.start(config: fixtureFunction(name: "fn"), directory: directory)
        }
        #expect(failure?.description.contains("admin.token: it is a symbolic link (to \(elsewhere.path))") == true, "\(failure?.description ?? "")")
        #expect(try String(contentsOf: elsewhere, encoding: .utf8) == "someone else's file\n", "the link's target is untouched")
    }

    @Test("A traverse-only state directory (0711) is accepted as it is")
    func traverseOnlyAccepted() async throws {
        let directory = try Self.prepared { state in
            try FileManager.default.setAttributes([.posixPermissions: 0o711], ofItemAtPath: state.path)
        }
        let gatehouse = try await RunningGatehouse.start(config: fixtureFunction(name: "fn"), directory: directory)
        defer { gatehouse.removeDirectory() }
        #expect(Self.mode(gatehouse.stateDirectory) == 0o711)
        #expect(!gatehouse.stderr.contains("repaired the mode"), "\(gatehouse.stderr)")
        _ = try await gatehouse.stop()
    }
}
