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
