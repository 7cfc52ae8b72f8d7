import Foundation
import GatehouseTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Functions are kept apart from Gatehouse and from each other: their environment always, their
/// users and ports when Gatehouse runs as root (as these tests do in CI).
@Suite("Function isolation: environment, users and ports", .serialized)
struct FunctionIsolationTests {
    static var isRoot: Bool { geteuid() == 0 }
    static var hasNft: Bool { ["/usr/sbin/nft", "/sbin/nft"].contains { FileManager.default.isExecutableFile(atPath: $0) } }

    init() {
        setenv("GATEHOUSE_TEST_OPERATOR_SECRET", "hunter2", 1)
    }

    @Test("A function gets its declared variables, the contract's and inheritEnv's, and none of the operator's")
    func environment() async throws {
        setenv("GATEHOUSE_TEST_PASSED", "passed-through", 1)
        let config = fixtureFunction(name: "fn", env: [("DECLARED", "yes")])
            .replacingOccurrences(of: "    env:\n", with: "    inheritEnv: [GATEHOUSE_TEST_PASSED]\n    env:\n")
        try await withGatehouse(config) { gatehouse in
            let response = try await gatehouse.request("fn", path: "/environ")
            let environ = response.json["environ"] as? [String: String] ?? [:]
            #expect(environ["GATEHOUSE_TEST_OPERATOR_SECRET"] == nil, "the operator's variable leaked: \(environ.keys.sorted())")
            #expect(environ["GATEHOUSE_TEST_PASSED"] == "passed-through")
            #expect(environ["DECLARED"] == "yes")
            #expect(environ["K_SERVICE"] == "fn")
            #expect(environ["PORT"] != nil)
            #expect(environ["PATH"] != nil)
            let allowed: Set<String> = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "DECLARED", "GATEHOUSE_TEST_PASSED", "LC_CTYPE"]
            let unexpected = environ.keys.filter { !allowed.contains($0) && !$0.hasPrefix("K_") && !$0.hasPrefix("GATEHOUSE_") && $0 != "PORT" }
            #expect(unexpected.isEmpty, "unexpected variables: \(unexpected)")
        }
    }

    @Test("As root, each function runs as a user of its own that cannot read the state directory or another's key",
          .enabled(if: isRoot))
    func users() async throws {
        try await withGatehouse(fixtureFunction(name: "one") + "---\n" + fixtureFunction(name: "two")) { gatehouse in
            let one = try await gatehouse.request("one", path: "/identity")
            let oneKey = try #require((one.json["env"] as? [String: Any])?["GATEHOUSE_SVID_KEY"] as? String)
            let probe = try await gatehouse.request("two", path: "/probe?read=\(oneKey)")
            let uid = try #require(probe.json["uid"] as? Int)
            #expect(uid != 0)
            #expect(probe.json["readable"] as? Bool == false, "function two read function one's key")
            let ownKey = try await gatehouse.request("one", path: "/probe?read=\(oneKey)")
            #expect(ownKey.json["readable"] as? Bool == true, "\(ownKey.body)")
            #expect(ownKey.json["uid"] as? Int != uid, "two functions share a uid")
            // Homes are private: one function cannot plant `~/.local` (or anything) for another.
            let oneEnviron = try await gatehouse.request("one", path: "/environ").json["environ"] as? [String: Any]
            let twoEnviron = try await gatehouse.request("two", path: "/environ").json["environ"] as? [String: Any]
            let oneHome = try #require(oneEnviron?["HOME"] as? String)
            let twoHome = try #require(twoEnviron?["HOME"] as? String)
            #expect(oneHome != twoHome && oneHome != "/tmp")
            let planted = try await gatehouse.request("two", path: "/probe?write=\(oneHome)/.planted")
            #expect(planted.json["written"] as? Bool == false, "function two wrote into function one's home: \(planted.body)")
            let own = try await gatehouse.request("one", path: "/probe?write=\(oneHome)/.mine")
            #expect(own.json["written"] as? Bool == true, "\(own.body)")
            for file in ["admin.token", "gatehouse.db", "ca/root-key.pem"] {
                let path = gatehouse.stateDirectory.appendingPathComponent(file).path
                let stolen = try await gatehouse.request("one", path: "/probe?read=\(path)")
                #expect(stolen.json["readable"] as? Bool == false, "\(file) was readable: \(stolen.body)")
            }
        }
    }

    @Test("As root with nftables, an instance's port answers Gatehouse alone: another function and another user are reset",
          .enabled(if: isRoot && hasNft))
    func ports() async throws {
        try await withGatehouse(fixtureFunction(name: "target") + "---\n" + fixtureFunction(name: "attacker")) { gatehouse in
            let target = try await gatehouse.request("target")
            let port = try #require((target.json["env"] as? [String: Any])?["PORT"] as? String)
            let fromFunction = try await gatehouse.request("attacker", path: "/probe?connect=\(port)")
            #expect(fromFunction.json["connected"] as? Bool == false, "\(fromFunction.body)")
            let own = try await gatehouse.request("target", path: "/probe?connect=\(port)")
            #expect(own.json["connected"] as? Bool == true, "the function may call itself: \(own.body)")
            // A shell user (nobody) dialing the port directly.
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            shell.arguments = [
                "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                "import socket; socket.create_connection(('127.0.0.1', \(port)), timeout=5)",
            ]
            shell.standardError = FileHandle.nullDevice
            try shell.run()
            while shell.isRunning { try await Task.sleep(for: .milliseconds(20)) }
            #expect(shell.terminationStatus != 0, "nobody connected to the instance's port directly")
            #expect(try await gatehouse.request("target").status == 200, "Gatehouse itself still reaches it")
        }
    }

    @Test("As root with nftables, a start removes the port tables of Gatehouses killed hard, and no live or unknown one's",
          .enabled(if: isRoot && hasNft))
    func abandonedTables() async throws {
        // Tables as a Gatehouse killed hard leaves them (each hooks every packet on the host).
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let namespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid").filter(\.isNumber)
        let started = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8).split(separator: ")").last!.split(separator: " ")[19]
        let suffix = UUID().uuidString.prefix(8).lowercased()
        // A port something still listens on (an instance that outlived its Gatehouse).
        let listener = try LoopbackListener()
        let busyPort = listener.port
        let deadOwner = "gatehouse pid=\(dead.processIdentifier) started=1 pidns=\(namespace)"
        let tables: [(name: String, comment: String?, elements: String?, kept: Bool)] = [
            ("dead", deadOwner, nil, false),
            ("reused", "gatehouse pid=\(getpid()) started=1 pidns=\(namespace)", nil, false),  // a live pid, another start time
            ("live", "gatehouse pid=\(getpid()) started=\(started) pidns=\(namespace)", nil, true),
            ("elsewhere", "gatehouse pid=\(dead.processIdentifier) started=1 pidns=1", nil, true),  // another PID namespace: not judged
            ("unowned", nil, nil, true),
            ("listening", deadOwner, "\(busyPort) . 64999", true),  // its instance still listens
            ("running", deadOwner, "1 . \(getuid())", true),  // a process still runs as an owner
        ].map { ("gatehouse_t\(suffix)\($0.0)", $0.1, $0.2, $0.3) }
        for table in tables {
            try Self.nft("""
                add table inet \(table.name)\(table.comment.map { " { comment \"\($0)\"; }" } ?? "")
                add set inet \(table.name) ports { type inet_service; }
                add set inet \(table.name) owners { typeof tcp dport . meta skuid; }
                add chain inet \(table.name) output { type filter hook output priority 0; policy accept; }
                """)
            if let elements = table.elements {
                try Self.nft("add element inet \(table.name) owners { \(elements) }\nadd element inet \(table.name) ports { \(elements.prefix { $0 != " " }) }")
            }
        }
        try await withGatehouse(fixtureFunction(name: "target")) { gatehouse in
            let left = try Self.nft("list tables")
            for table in tables {
                #expect(left.contains(table.name + "\n") == table.kept, "\(table.name): \(table.kept ? "removed" : "not removed")")
            }
            #expect(try await gatehouse.request("target").status == 200)
        }
        listener.close()  // kept open (and alive) until Gatehouse has looked
        for table in tables { _ = try? Self.nft("delete table inet \(table.name)") }
    }

    @discardableResult
    static func nft(_ command: String) throws -> String {
        let nft = ["/usr/sbin/nft", "/sbin/nft"].first { FileManager.default.isExecutableFile(atPath: $0) }!
        let result = try runWithInput(nft, ["-f", "-"], input: command)
        guard result.status == 0 else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "nft \(command): \(result.errors)"])
        }
        return result.output
    }

    /// Whether uid 65534 can run the built binary from where it lies (not when the clone sits under /root).
    static var nobodyCanRunGatehouse: Bool {
        guard isRoot, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return false }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        check.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/test", "-x", GatehouseBinary.url.path]
        guard (try? check.run()) != nil else { return false }
        check.waitUntilExit()
        return check.terminationStatus == 0
    }

    @Test("Not as root, up says once which isolation it cannot enforce, and functions still serve as its user",
          .enabled(if: nobodyCanRunGatehouse))
    func notRoot() async throws {
        let gatehouse = try await RunningGatehouse.start(config: fixtureFunction(name: "fn"), asUser: 65534)
        defer { gatehouse.removeDirectory() }
        do {
            let probe = try await gatehouse.request("fn", path: "/probe")
            #expect(probe.json["uid"] as? Int == 65534, "\(probe.body)")
            let environ = try await gatehouse.request("fn", path: "/environ").json["environ"] as? [String: Any]
            #expect(environ?["GATEHOUSE_TEST_OPERATOR_SECRET"] == nil, "the environment is filtered without root too")
            #expect(gatehouse.stderr.components(separatedBy: "isolation: functions run as this user").count == 2, "\(gatehouse.stderr)")
        } catch {
            print("--- gatehouse stderr ---\n\(gatehouse.stderr)")
            _ = try? await gatehouse.stop()
            throw error
        }
        _ = try await gatehouse.stop()
    }
}
