import Foundation
import GatehouseConfig
import Testing

/// Every YAML example in the reference pages decodes as the docs say it does: an example cannot
/// drift from the decoder without this failing.
@Suite("Documented examples")
struct DocumentedExamplesTests {
    static let reference = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/reference")

    /// Each fenced `yaml` block of each page, with where it starts.
    static func examples() throws -> [(page: String, line: Int, yaml: String)] {
        var found: [(String, Int, String)] = []
        for page in try FileManager.default.contentsOfDirectory(atPath: reference.path).sorted() where page.hasSuffix(".md") {
            let lines = try String(contentsOf: reference.appendingPathComponent(page), encoding: .utf8).components(separatedBy: "\n")
            var block: [String]?
            var start = 0
            for (number, line) in lines.enumerated() {
                if block == nil, line.hasPrefix("```yaml") {
                    block = []
                    start = number + 2
                } else if block != nil, line.hasPrefix("```") {
                    found.append((page, start, block!.joined(separator: "\n")))
                    block = nil
                } else {
                    block?.append(line)
                }
            }
        }
        return found
    }

    @Test("Each reference page's YAML examples decode without a diagnostic")
    func examplesDecode() throws {
        let examples = try Self.examples()
        #expect(examples.count >= 8, "found \(examples.count)")
        for example in examples where example.yaml.contains("apiVersion:") {
            do {
                _ = try ConfigLoader.load(sources: [("\(example.page):\(example.line)", example.yaml)], whole: false)
            } catch {
                Issue.record("docs/reference/\(example.page), the example at line \(example.line): \(error)")
            }
        }
    }
}
