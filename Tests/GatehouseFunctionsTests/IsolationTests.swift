import Foundation
import GatehouseCore
@testable import GatehouseFunctions
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Function isolation: users, environment, executables, listening sockets")
struct IsolationTests {
    private func spec(_ name: String, runAs: Int? = nil, group: Int? = nil, env: [(String, String)] = [], inherit: [String] = []) -> FunctionSpec {
        FunctionSpec(name: name, process: .init(
            command: ["python3"], env: env.map { .init(name: $0.0, value: $0.1) }, inheritEnv: inherit, runAsUser: runAs, runAsGroup: group))
    }

    @Test("Each function gets a uid of its own from the range, kept for its revisions; an explicit one outside it wins")
    func users() {
        var users = FunctionUsers(range: 70000...70002)
        let a = try? users.user(for: spec("a")).get(), b = try? users.user(for: spec("b")).get()
        #expect(a == FunctionUser(uid: 70000, gid: 70000))
        #expect(b == FunctionUser(uid: 70001, gid: 70001))
        #expect((try? users.user(for: spec("a")).get()) == a, "the same function keeps its uid")
        #expect((try? users.user(for: spec("c", runAs: 5000, group: 6000)).get()) == FunctionUser(uid: 5000, gid: 6000))
        #expect(users.user(for: spec("x", runAs: 70000)) == .failure(.insideRange(70000)), "another function's uid cannot be named")
        #expect(users.user(for: spec("y", runAs: 5000, group: 70001)) == .failure(.insideRange(70001)))
        #expect((try? users.user(for: spec("d")).get()) == FunctionUser(uid: 70002, gid: 70002))
        #expect(users.user(for: spec("e")) == .failure(.exhausted), "the range is used up: no uid is shared")
    }

    @Test("The environment is the contract, the spec's and the named ones: nothing else of Gatehouse's")
    func environment() {
        let inherited = ["PATH": "/usr/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "REGION": "eu", "LANG": "C.UTF-8"]
        let built = FunctionEnvironment.build(
            spec("f", env: [("GREETING", "hi"), ("PORT", "1")], inherit: ["REGION", "MISSING"]), inherited: inherited,
            contract: ["PORT": "8080", "K_SERVICE": "f"], home: "/state/homes/70000")
        #expect(built == [
            "PATH": "/usr/bin", "LANG": "C.UTF-8", "HOME": "/state/homes/70000", "TMPDIR": "/state/homes/70000/tmp", "REGION": "eu",
            "GREETING": "hi", "PORT": "8080", "K_SERVICE": "f",
        ])
        let asGatehouse = FunctionEnvironment.build(spec("f"), inherited: inherited, contract: [:], home: nil)
        #expect(asGatehouse["HOME"] == "/root")
        #expect(asGatehouse["AWS_SECRET_ACCESS_KEY"] == nil)
    }

    @Test("A command is found in PATH only where its user may search and execute", .enabled(if: geteuid() == 0))
    func lookup() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("lookup-\(UUID().uuidString.prefix(6))")
        let hidden = base.appendingPathComponent("hidden"), open = base.appendingPathComponent("open")
        for (directory, mode) in [(base, 0o755), (hidden, 0o700), (open, 0o755)] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            chmod(directory.path, mode_t(mode))
        }
        defer { try? FileManager.default.removeItem(at: base) }
        for directory in [hidden, open] {
            let tool = directory.appendingPathComponent("tool")
            try "#!/bin/sh\n".write(to: tool, atomically: true, encoding: .utf8)
            chmod(tool.path, 0o755)
        }
        let user = FunctionUser(uid: 65534, gid: 65534)
        #expect(ExecutableLookup.find("tool", path: "\(hidden.path):\(open.path)", for: user) == open.appendingPathComponent("tool").path)
        #expect(ExecutableLookup.find("tool", path: hidden.path, for: user) == nil)
        #expect(ExecutableLookup.find("tool", path: "relative:\(hidden.path)", for: FunctionUser(uid: 0, gid: 0))
                == hidden.appendingPathComponent("tool").path, "the owner may search its 0700 folder; relative entries are skipped")
    }

    @Test("The owner of a listening socket is read from /proc/net/tcp")
    func listeningOwner() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let channel = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? channel.close().wait() }
        let port = try #require(channel.localAddress?.port)
        // Tests running beside this one may listen on the same port number on another address.
        let owners = ListeningSockets.owners(ofPort: port)
        #expect(owners.contains(geteuid()))
        try channel.close().wait()
        #expect(ListeningSockets.owners(ofPort: port).count < owners.count)
    }
}
