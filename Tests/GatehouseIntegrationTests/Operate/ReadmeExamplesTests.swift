import Foundation
import GatehouseTesting
import Testing

/// The README's offline examples — `gatehouse test` and `gatehouse explain -f` — run as written,
/// and print what the README shows: a change to either the output or the README fails here.
@Suite("README examples")
struct ReadmeExamplesTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Example {
        var line: Int
        var arguments: [String]
        /// The output lines the README shows (a `…` line stands for lines left out).
        var shown: [String]
        /// Files the README has the reader write before it (`echo '…' > alice.json`).
        var files: [(name: String, content: String)]
    }

    /// Each `swift run -c release gatehouse test|explain … -f …` line, with the output lines under
    /// it and the files written by `echo '…' > FILE` lines before it in the same block.
    static func examples() throws -> [Example] {
        let lines = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8).components(separatedBy: "\n")
        var examples: [Example] = []
        var files: [(String, String)] = []
        let prefix = "    swift run -c release gatehouse "
        for (index, line) in lines.enumerated() {
            if let file = writtenFile(line) { files.append(file) }
            guard line.hasPrefix(prefix) else { continue }
            let arguments = split(String(line.dropFirst(prefix.count)))
            guard arguments.first == "test" || (arguments.first == "explain" && arguments.contains("-f")) else { continue }
            var shown: [String] = []
            for next in lines[(index + 1)...] {
                guard next.hasPrefix("    "), !next.hasPrefix(prefix), writtenFile(next) == nil else { break }
                shown.append(String(next.dropFirst(4)))
            }
            examples.append(Example(line: index + 1, arguments: arguments, shown: shown, files: files))
        }
        return examples
    }

    /// `    echo 'CONTENT' > NAME`: the file a reader writes for a later example.
    static func writtenFile(_ line: String) -> (name: String, content: String)? {
        guard line.hasPrefix("    echo '"), let close = line.range(of: "' > ") else { return nil }
        let content = String(line[line.index(line.startIndex, offsetBy: 10)..<close.lowerBound])
        return (String(line[close.upperBound...]).trimmingCharacters(in: .whitespaces), content)
    }

    /// Words as a shell splits them, for the quoting the README uses ('…').
    static func split(_ command: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quoted = false
        var started = false
        for character in command {
            if character == "'" {
                quoted.toggle()
                started = true
            } else if character == " ", !quoted {
                if started { words.append(current) }
                current = ""
                started = false
            } else {
                current.append(character)
                started = true
            }
        }
        if started { words.append(current) }
        return words
    }

    @Test("Each offline example runs as written and prints what the README shows")
    func examplesRun() async throws {
        let examples = try Self.examples()
        #expect(examples.count >= 4, "found \(examples.count)")
        // A folder of the reader's own: the repository's examples, and the files the README writes.
        let folder = try RunningGatehouse.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("examples"), withDestinationURL: Self.root.appendingPathComponent("examples"))
        for example in examples {
            for (name, content) in example.files { try content.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8) }
            let result = try await RunningGatehouse.runCLI(example.arguments, workingDirectory: folder)
            let output = result.stdout
            #expect(result.status == 0 || example.arguments.first == "explain", "README.md:\(example.line): \(result.stderr)")
            for shown in example.shown where shown.trimmingCharacters(in: .whitespaces) != "…" {
                // A line ending in `…` shows only its beginning.
                let expected = shown.components(separatedBy: "…")[0]
                #expect(output.contains(expected), "README.md:\(example.line) shows \"\(expected)\", but the command printed:\n\(output)")
            }
        }
    }
}
