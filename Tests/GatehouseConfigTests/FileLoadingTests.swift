import Foundation
import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Loading files and directories")
struct FileLoadingTests {
    /// A fresh temporary directory, removed by the caller.
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("a directory contributes its *.yaml and *.yml files in name order, not recursing")
    func directory() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try functionDocument(name: "b").write(to: dir.appendingPathComponent("b.yml"), atomically: true, encoding: .utf8)
        try functionDocument(name: "a").write(to: dir.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        try "not: yaml: [".write(to: dir.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let nested = dir.appendingPathComponent("nested.yaml")
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        try functionDocument(name: "c").write(to: nested.appendingPathComponent("c.yaml"), atomically: true, encoding: .utf8)

        let snapshot = try ConfigLoader.load(paths: [dir.path])
        #expect(snapshot.functions.map(\.name) == ["a", "b"])
        #expect(snapshot.functions.map { $0.source?.file } == [dir.appendingPathComponent("a.yaml").path, dir.appendingPathComponent("b.yml").path])
    }

    @Test("the sort order decides which duplicate is reported")
    func duplicateOrder() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try functionDocument().write(to: dir.appendingPathComponent("2.yaml"), atomically: true, encoding: .utf8)
        try functionDocument().write(to: dir.appendingPathComponent("1.yaml"), atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(paths: [dir.path]) }
        do {
            _ = try ConfigLoader.load(paths: [dir.path])
        } catch {
            #expect(error.diagnostics.map(\.location.file) == [dir.appendingPathComponent("2.yaml").path])
        }
    }

    @Test("a missing path is a diagnostic naming it, reported with the other problems")
    func missingPath() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("f.yaml")
        try functionDocument(spec: "  timeout: 1").write(to: file, atomically: true, encoding: .utf8)
        let missing = dir.appendingPathComponent("missing.yaml").path
        do {
            _ = try ConfigLoader.load(paths: [file.path, missing])
            Issue.record("expected an error")
        } catch {
            #expect(error.diagnostics.map(\.location.file) == [missing, file.path])
            #expect(error.diagnostics.first?.description == "\(missing): no such file or directory (fix: check the path, or create the file)")
        }
    }
}

@Suite("Documents kept for the store")
struct StoredDocumentTests {
    static let twoDocuments = """
        # leading comment
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata: {name: one}
        spec:
          process: {command: ["a"]}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: deny, namespace: team}
        spec: {}
        """

    @Test("Each document is kept as written, keyed by group, kind, namespace and name, with its line offset")
    func documentsKept() throws {
        let snapshot = try ConfigLoader.load(yaml: Self.twoDocuments, file: "two.yaml")
        #expect(snapshot.documents.map(\.key) == [
            ResourceKey(group: "gatehouse.dev", kind: "Function", namespace: "default", name: "one"),
            ResourceKey(group: "security.istio.io", kind: "AuthorizationPolicy", namespace: "team", name: "deny"),
        ])
        #expect(snapshot.documents[0].text.hasPrefix("# leading comment\n"))
        #expect(snapshot.documents[1].origin == "two.yaml:7")
    }

    @Test("Reloaded documents report problems at their original file and line")
    func reloadKeepsLocations() throws {
        var documents = try ConfigLoader.load(yaml: Self.twoDocuments, file: "two.yaml").documents
        documents[1].text = documents[1].text.replacingOccurrences(of: "namespace: team", with: "namespace: Bad_Team")
        #expect(throws: ConfigError.self) { try ConfigLoader.load(documents: documents) }
        do {
            _ = try ConfigLoader.load(documents: documents)
        } catch {
            #expect(error.diagnostics.first?.location.file == "two.yaml")
            #expect(error.diagnostics.first?.location.line == 10)
        }
    }

    @Test("Two documents with one key are refused, whatever their kind")
    func duplicateKeys() {
        let yaml = """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: p}
            ---
            apiVersion: security.istio.io/v1beta1
            kind: AuthorizationPolicy
            metadata: {name: p}
            """
        do {
            _ = try ConfigLoader.load(yaml: yaml, file: "dup.yaml")
            Issue.record("expected a duplicate")
        } catch {
            #expect(error.diagnostics.first?.description.contains("duplicate AuthorizationPolicy default/p; first defined at dup.yaml:1") == true)
        }
    }
}
