import Foundation
import GatehouseTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The README's walk-through, run as a reader runs it: `gatehouse up -f examples/quickstart` in a
/// folder of the reader's own, then every command of the walk-through in the README's order, as
/// written — `curl`, `gatehouse invoke`, `apply`, `get`, `trace`, `explain --request-id`, `ca issue`
/// and curl over mutual TLS, the offline `test` and `explain -f` — and each output the README shows
/// compared with what the command printed (see `ShownOutput` for the placeholders). A change to
/// the binary's output or to the README that makes them disagree fails here.
///
/// What is substituted, and nothing else: `swift run -c release gatehouse` is the built binary;
/// Gatehouse gets free ports (`--ingress`, `--admin`, `--mesh` on port 0) and the README's `8080`,
/// `15000`, `15443` are mapped to them in commands and back in outputs; `/tmp/` is the test's
/// folder; an elided id (`5c0e…`) in a command is the value an earlier output showed under it.
/// A block without a command shows what the running `gatehouse up` printed (its summary on stderr,
/// access log lines on stdout; a `{…}` block wrapped over several lines is one line).
///
/// Examples that need a running Gatehouse but are not run here, and why:
/// - README, the 401 for an expired token (`notRun` below): it needs a token from an issuer
///   Gatehouse can fetch keys from; `RequestAuthenticationTests.hostileTokens` checks that answer.
/// - docs/tracing.md, the `frontend` → `billing` trace tree: it needs two functions that call each
///   other, which examples/ does not have; `TraceTests` ("A request refused one hop deep") checks
///   the same facts, not the printed lines.
/// - docs/admin-api.md's JSON: `AdminAPIExamplesTests` sends its request bodies and compares its
///   answers' keys with the real ones, but for the 409 (two writers racing), whose fields
///   `SharedStoreTests` checks.
/// - docs/reference/explain.md's `-o json` (a STRICT PeerAuthentication in namespace `shop`) and
///   audit.md's command synopses and `sqlite3` line: no session shows their output.
@Suite("README examples")
struct ReadmeExamplesTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// How the commands a reader types begin.
    static let commandPrefixes = ["swift run -c release gatehouse ", "curl ", "sed ", "cp ", "echo ", "mkdir "]
    static let gatehouseCommand = "swift run -c release gatehouse"

    /// The examples that do not run here, and why. Each must still be in the README (a stale entry fails).
    static let notRun: [(prefix: String, reason: String)] = [
        ("curl -i -H 'Host: hello.default.localhost' -H 'Authorization: Bearer eyJ…'",
         "needs an expired token signed by an issuer whose keys Gatehouse can fetch; accounts.example.com is a "
            + "placeholder. RequestAuthenticationTests.hostileTokens checks the same 401, header and body with a real issuer."),
    ]

    struct Step {
        var line: Int
        /// The command as written (continuation lines joined); nil for what `gatehouse up` printed.
        var command: String?
        var shown: [String]
    }

    /// The walk-through's indented blocks, in order: each command with the output lines under it.
    /// (The *Two commands* block above it is the same `up`, and `swift test`, which is this suite.)
    static func steps() throws -> [Step] {
        let lines = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8).components(separatedBy: "\n")
        guard let start = lines.firstIndex(of: "## Quickstart walk-through"), let end = lines.firstIndex(of: "## The CLI") else {
            throw ReadmeFailure(description: "README.md has no walk-through section")
        }
        var steps: [Step] = []
        var inBlock = false
        for index in start..<end {
            let line = lines[index]
            guard line.hasPrefix("    ") else {
                inBlock = false
                continue
            }
            let text = String(line.dropFirst(4))
            if inBlock, let last = steps.last, let command = last.command, command.hasSuffix("\\"), last.shown.isEmpty {
                // A command continued on the next line.
                steps[steps.count - 1].command = command.dropLast().trimmingCharacters(in: .whitespaces) + " " + text.trimmingCharacters(in: .whitespaces)
            } else if commandPrefixes.contains(where: text.hasPrefix) {
                steps.append(Step(line: index + 1, command: text, shown: []))
            } else if inBlock, !steps.isEmpty {
                steps[steps.count - 1].shown.append(text)
            } else {
                steps.append(Step(line: index + 1, command: nil, shown: [text]))
            }
            inBlock = true
        }
        return steps
    }

    @Test("The walk-through runs as written against the real binary and prints what the README shows")
    func walkthrough() async throws {
        let steps = try Self.steps()
        #expect(steps.filter { $0.command != nil }.count >= 25, "found \(steps.count) steps")
        for skipped in Self.notRun {
            #expect(steps.contains { $0.command?.hasPrefix(skipped.prefix) ?? false }, "notRun names an example the README no longer has: \(skipped.prefix)")
        }
        let folder = try RunningGatehouse.makeTemporaryDirectory()
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("examples"), withDestinationURL: Self.root.appendingPathComponent("examples"))
        let walk = Walkthrough(folder: folder)
        do {
            try await walk.run(steps)
        } catch {
            walk.stop()
            print("--- gatehouse stderr ---\n\(walk.upOutput.stderr)")
            throw error
        }
        // Shutdown: with nothing in flight, Ctrl-C (SIGTERM) stops it at once, and no instance is left.
        let status = try await walk.stopGracefully()
        #expect(status == 0, "gatehouse up exited with \(status)")
        for pid in walk.functionPids { #expect(!processIsAlive(pid), "function process \(pid) outlived gatehouse") }
        try? FileManager.default.removeItem(at: folder)
    }
}

struct ReadmeFailure: Error, CustomStringConvertible {
    let description: String
}

/// One reader's session: the folder, the running `gatehouse up`, and the ids seen so far.
final class Walkthrough: @unchecked Sendable {
    let folder: URL
    var up: Process?
    /// README port → the port Gatehouse bound.
    var ports: [(shown: String, actual: String)] = []
    var ids: [String: String] = [:]
    /// The instance pids functions reported (`"pid": N`): none may outlive Gatehouse.
    var functionPids: Set<Int32> = []

    init(folder: URL) { self.folder = folder }

    /// Commands that only read, and may be run again while what they read is being written.
    static let readingCommands = ["explain --request-id", "trace", "get", "describe", "logs", "history", "audit"]

    var upOutput: (stdout: String, stderr: String) {
        ((try? String(contentsOf: folder.appendingPathComponent("up.out"), encoding: .utf8)) ?? "",
         (try? String(contentsOf: folder.appendingPathComponent("up.err"), encoding: .utf8)) ?? "")
    }

    func run(_ steps: [ReadmeExamplesTests.Step]) async throws {
        for step in steps {
            let shown = Self.unwrapped(step.shown)
            guard let command = step.command else {
                try await checkGatehouseOutput(shown, line: step.line)
                continue
            }
            if let skipped = ReadmeExamplesTests.notRun.first(where: { command.hasPrefix($0.prefix) }) {
                print("README.md:\(step.line): not run: \(skipped.reason)")
                continue
            }
            if command.hasPrefix(ReadmeExamplesTests.gatehouseCommand + " up ") {
                try await start(command, line: step.line)
                continue
            }
            guard let concrete = substituted(command, line: step.line) else { continue }
            // What a command reads may be written a moment after the request that made it (the
            // decision log every 200 ms, an instance stopping once idle): a reading command gets
            // three seconds to show it, as a reader typing the next line would.
            let reads = Self.readingCommands.contains { command.hasPrefix(ReadmeExamplesTests.gatehouseCommand + " " + $0) }
            let deadline = ContinuousClock.now + .seconds(reads ? 3 : 0)
            while true {
                let (status, output) = try await Self.shell(concrete, in: folder)
                let printed = normalized(output)
                let matched = shown.isEmpty || (try? ShownOutput(shown).match(printed, bound: ids)) != nil
                if (status != 0 || !matched), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                    continue
                }
                #expect(status == 0, "README.md:\(step.line): `\(command)` exited with \(status):\n\(output)")
                collectPids(printed)
                if !shown.isEmpty { check(shown, against: printed, line: step.line, what: "`\(command)` printed") }
                break
            }
        }
    }

    // MARK: gatehouse up

    func start(_ command: String, line: Int) async throws {
        let arguments = command.dropFirst(ReadmeExamplesTests.gatehouseCommand.count).split(separator: " ").map(String.init)
        let process = Process()
        process.executableURL = GatehouseBinary.url
        process.arguments = arguments + ["--ingress", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--mesh", "127.0.0.1:0"]
        process.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        environment["GATEHOUSE_STATE_DIR"] = nil
        process.environment = environment
        for name in ["up.out", "up.err"] { _ = FileManager.default.createFile(atPath: folder.appendingPathComponent(name).path, contents: nil) }
        process.standardOutput = try FileHandle(forWritingTo: folder.appendingPathComponent("up.out"))
        process.standardError = try FileHandle(forWritingTo: folder.appendingPathComponent("up.err"))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        up = process
        let endpointsFile = folder.appendingPathComponent(".gatehouse/endpoints.json")
        let endpoints = try await eventually("README.md:\(line): gatehouse up to serve", timeout: .seconds(60)) { () -> [String: Any]? in
            if !process.isRunning { throw ReadmeFailure(description: "gatehouse up exited:\n\(upOutput.stderr)") }
            guard let data = try? Data(contentsOf: endpointsFile),
                  let endpoints = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  (endpoints["pid"] as? Int).map(Int32.init) == process.processIdentifier else { return nil }
            return endpoints
        }
        for (key, shown) in [("ingress", "8080"), ("admin", "15000"), ("mesh", "15443")] {
            guard let url = endpoints[key] as? String, let port = url.split(separator: ":").last else { continue }
            ports.append((shown, String(port)))
        }
    }

    func stop() {
        if let up, up.isRunning { kill(up.processIdentifier, SIGKILL) }
    }

    /// SIGTERM, and the exit status; fails when it takes more than 10 s with nothing in flight.
    func stopGracefully() async throws -> Int32 {
        guard let up else { return -1 }
        kill(up.processIdentifier, SIGTERM)
        let began = ContinuousClock.now
        _ = try await eventually("gatehouse up to exit after SIGTERM", timeout: .seconds(30)) { up.isRunning ? nil : true }
        #expect(ContinuousClock.now - began < .seconds(10), "with nothing in flight, SIGTERM should stop gatehouse at once")
        return up.terminationStatus
    }

    // MARK: Commands

    /// The command with the README's ports, binary, `/tmp/` and elided ids made concrete.
    func substituted(_ command: String, line: Int) -> String? {
        // The README's `/tmp/` first: the binary's own path may be under /tmp (a CI clone is).
        var text = command.replacingOccurrences(of: "/tmp/", with: folder.path + "/")
        for (shown, actual) in ports { text = text.replacingOccurrences(of: ":\(shown)", with: ":\(actual)") }
        text = text.replacingOccurrences(of: ReadmeExamplesTests.gatehouseCommand, with: "'\(GatehouseBinary.url.path)'")
        let elided = try! Regex("[0-9a-f]{4,}…")
        for found in text.matches(of: elided).reversed() {
            // Only at a word's start: `eyJ…` or `cafe…` inside a word is text cut short, not an id.
            if found.range.lowerBound > text.startIndex, text[text.index(before: found.range.lowerBound)].isLetter
                || text[text.index(before: found.range.lowerBound)].isNumber { continue }
            let name = String(text[found.range].dropLast())
            guard let value = ids[name] else {
                Issue.record("README.md:\(line): `\(command)` uses \(name)…, which no output above it shows")
                return nil
            }
            text.replaceSubrange(found.range, with: value)
        }
        return text
    }

    /// Runs `command` with `/bin/sh` in `folder`; its status and its stdout followed by its stderr.
    static func shell(_ command: String, in folder: URL) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        environment["GATEHOUSE_STATE_DIR"] = nil
        process.environment = environment
        let out = folder.appendingPathComponent("command.out"), err = folder.appendingPathComponent("command.err")
        for file in [out, err] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(90)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8) + String(contentsOf: err, encoding: .utf8))
    }

    // MARK: Outputs

    /// Real ports, the folder and the user shown as the README shows them.
    func normalized(_ output: String) -> String {
        var text = output
        for (shown, actual) in ports { text = text.replacingOccurrences(of: ":\(actual)", with: ":\(shown)") }
        text = text.replacingOccurrences(of: folder.path + "/", with: "/tmp/")
        let user = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName
        text = text.replacingOccurrences(of: "\(user)@\(ProcessInfo.processInfo.hostName)", with: "you@host")
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name {
            text = text.replacingOccurrences(of: "\(String(cString: name)) (gatehouse up -f)", with: "you (gatehouse up -f)")
        }
        return text
    }

    /// A JSON object the README wraps over several lines is one line of output.
    static func unwrapped(_ shown: [String]) -> [String] {
        guard shown.count > 1, let first = shown.first, first.hasPrefix("{"), !first.hasSuffix("}") else { return shown }
        return [shown.map { $0.trimmingCharacters(in: .whitespaces) }.joined()]
    }

    func collectPids(_ output: String) {
        for found in output.matches(of: try! Regex("\"pid\": ([0-9]+)")) {
            if let pid = found.output[1].substring.flatMap({ Int32($0) }) { functionPids.insert(pid) }
        }
    }

    func check(_ shown: [String], against output: String, line: Int, what: String) {
        do {
            if let found = try ShownOutput(shown).match(output, bound: ids) {
                ids = found
            } else {
                Issue.record("README.md:\(line) shows\n\(shown.joined(separator: "\n"))\nbut \(what):\n\(output)")
            }
        } catch {
            Issue.record("README.md:\(line): \(error)")
        }
    }

    /// What the running `gatehouse up` printed: its stderr (the summary, its log) or its stdout
    /// (the access log), waited for because both are written as things happen.
    func checkGatehouseOutput(_ shown: [String], line: Int) async throws {
        guard let pattern = try? ShownOutput(shown) else {
            Issue.record("README.md:\(line): the shown output is not a pattern")
            return
        }
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            let (stdout, stderr) = upOutput
            for output in [stderr, stdout] {
                if let found = pattern.match(normalized(output), bound: ids) {
                    ids = found
                    return
                }
            }
            if ContinuousClock.now > deadline {
                Issue.record("README.md:\(line) shows\n\(shown.joined(separator: "\n"))\nbut gatehouse up printed:\n\(normalized(stderr))\n\(normalized(stdout))")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
