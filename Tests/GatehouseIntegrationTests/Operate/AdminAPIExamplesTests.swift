import Foundation
import GatehouseTesting
import Testing

/// The JSON in docs/admin-api.md is sent to, or compared with, a real Gatehouse: a request body
/// shown there is accepted as written (but for its file's content), and an answer shown there has
/// the keys the real answer has — so the page cannot drift from the API.
@Suite("docs/admin-api.md: its JSON examples against the real admin API", .serialized)
struct AdminAPIExamplesTests {
    /// Every ```json block of the page, parsed (`…` stands only inside strings, so each is JSON).
    static func examples() throws -> [[String: Any]] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/admin-api.md"), encoding: .utf8)
        var blocks: [[String: Any]] = []
        var current: [String]?
        for line in text.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == "```json" {
                current = []
            } else if trimmed == "```", let lines = current {
                let object = try JSONSerialization.jsonObject(with: Data(lines.joined(separator: "\n").utf8))
                blocks.append(try #require(object as? [String: Any], "a JSON example is not an object: \(lines)"))
                current = nil
            } else if current != nil {
                current?.append(line)
            }
        }
        return blocks
    }

    /// Every key the example shows is in the real answer, at every level (first array elements compared).
    static func keysMissing(_ example: Any, from actual: Any, at path: String = "") -> [String] {
        switch (example, actual) {
        case (let shown as [String: Any], let real as [String: Any]):
            return shown.keys.sorted().flatMap { key -> [String] in
                guard let value = real[key] else { return ["\(path).\(key)"] }
                return keysMissing(shown[key]!, from: value, at: "\(path).\(key)")
            }
        case (let shown as [Any], let real as [Any]):
            guard let first = shown.first, let other = real.first else { return [] }
            return keysMissing(first, from: other, at: "\(path)[0]")
        default:
            return []
        }
    }

    static func object(_ body: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "\(body)")
    }

    static func json(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value), as: UTF8.self)
    }

    @Test("Errors, apply, delete and invoke: requests as shown are accepted; answers have the keys shown")
    func examples() async throws {
        let examples = try Self.examples()
        func example(with key: String, _ value: String? = nil) throws -> [String: Any] {
            try #require(examples.first { block in block[key] != nil && (value == nil || "\(block[key]!)" == value) }, "no example with \(key)")
        }
        try await withGatehouse(fixtureFunction(name: "hello")) { gatehouse in
            let file = gatehouse.stateDirectory.deletingLastPathComponent().appendingPathComponent("functions.yaml").path

            // An invalid apply: the error shape with diagnostics.
            let invalid = fixtureFunction(name: "hello", scaling: "maxInstances: 0")
            let refused = try await gatehouse.api("/api/v1/apply", method: .POST, json: try Self.json(["files": [["name": file, "content": invalid]]]))
            #expect(refused.status == 400)
            #expect(Self.keysMissing(try example(with: "diagnostics"), from: try Self.object(refused.body)) == [], "\(refused.body)")

            // The apply request as shown (its file's content made real), and its answer.
            var request = try example(with: "files")
            var files = try #require(request["files"] as? [[String: Any]])
            files[0]["name"] = file
            files[0]["content"] = fixtureFunction(name: "hello", scaling: "maxInstances: 2")
            request["files"] = files
            let applied = try await gatehouse.api("/api/v1/apply", method: .POST, json: try Self.json(request))
            #expect(applied.status == 200, "\(applied.body)")
            #expect(Self.keysMissing(try example(with: "items"), from: try Self.object(applied.body)) == [], "\(applied.body)")

            // The invoke request as shown.
            let invoked = try await gatehouse.api("/api/v1/invoke", method: .POST, json: try Self.json(try example(with: "host")))
            #expect(invoked.status == 200, "\(invoked.body)")

            // The delete request as shown.
            let deleted = try await gatehouse.api("/api/v1/delete", method: .POST, json: try Self.json(try example(with: "resources")))
            #expect(deleted.status == 200, "\(deleted.body)")
            #expect(try await gatehouse.request("hello").status == 404)
        }
    }
}
