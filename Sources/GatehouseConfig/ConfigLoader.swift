import Foundation
import GatehouseCore
import Yams

/// Turns YAML files into a validated `ConfigSnapshot`, or a `ConfigError` listing every problem at once.
/// All-or-nothing: a snapshot is returned only when no diagnostic was found, so nothing half-applies.
public enum ConfigLoader {
    /// Files or directories (directories: their `*.yaml` / `*.yml` files, sorted, not recursive).
    /// A missing or unreadable path is a diagnostic naming it.
    public static func load(paths: [String]) throws(ConfigError) -> ConfigSnapshot {
        let (sources, problems) = gather(paths)
        let snapshot: ConfigSnapshot
        do throws(ConfigError) {
            snapshot = try load(sources: sources)
        } catch {
            throw ConfigError(diagnostics: problems + error.diagnostics)
        }
        guard problems.isEmpty else { throw ConfigError(diagnostics: problems) }
        return snapshot
    }

    /// The text of every file the paths stand for, or every path that could not be read.
    public static func read(paths: [String]) throws(ConfigError) -> [(file: String, yaml: String)] {
        let (sources, problems) = gather(paths)
        guard problems.isEmpty else { throw ConfigError(diagnostics: problems) }
        return sources
    }

    private static func gather(_ paths: [String]) -> (sources: [(file: String, yaml: String)], problems: [ConfigDiagnostic]) {
        var sources: [(file: String, yaml: String)] = []
        var problems: [ConfigDiagnostic] = []
        for path in paths {
            for file in expand(path, problems: &problems) {
                do {
                    sources.append((file, try String(contentsOfFile: file, encoding: .utf8)))
                } catch {
                    problems.append(fileProblem(file, "cannot read the file as UTF-8 text", fix: "check its permissions and encoding"))
                }
            }
        }
        return (sources, problems)
    }

    /// One YAML text, possibly holding many `---` documents; `file` names it in diagnostics.
    public static func load(yaml: String, file: String) throws(ConfigError) -> ConfigSnapshot {
        try load(sources: [(file: file, yaml: yaml)])
    }

    /// Several sources merged into one snapshot; cross-document rules (one Mesh, unique functions) span them all.
    /// `whole: false` reads part of a config — what one apply sends — leaving out the checks that
    /// need the rest (a VirtualService's function, a policy's provider); the server checks the whole.
    /// A whole config read from files has its traffic resolved leniently (`RevisionResolver`), as
    /// far as files alone can tell; `resolvingRevisions: false` leaves it to the caller.
    public static func load(
        sources: [(file: String, yaml: String)], whole: Bool = true, resolvingRevisions: Bool = true
    ) throws(ConfigError) -> ConfigSnapshot {
        try load(chunks: sources.map { source in (source.file, YAMLDocuments.split(source.yaml)) }, whole: whole, resolve: whole && resolvingRevisions)
    }

    /// Documents kept from earlier applies, each checked again as part of the whole. Their traffic
    /// is left unresolved: the store's revisions decide it (`RevisionResolver`, on apply).
    public static func load(documents: [ResourceDocument]) throws(ConfigError) -> ConfigSnapshot {
        try load(chunks: documents.map { document in
            (document.file, [YAMLDocuments.Chunk(text: document.text, lineOffset: document.lineOffset)])
        }, resolve: false)
    }

    private static func load(
        chunks files: [(file: String, chunks: [YAMLDocuments.Chunk])], whole: Bool = true, resolve: Bool = true
    ) throws(ConfigError) -> ConfigSnapshot {
        var builder = SnapshotBuilder()
        var diagnostics: [ConfigDiagnostic] = []
        for (file, chunks) in files {
            let collector = DiagnosticCollector(file: file)
            for chunk in chunks {
                collector.lineOffset = chunk.lineOffset
                readChunk(chunk.text, collector: collector) { node in builder.add(node, text: chunk.text, diagnostics: collector) }
            }
            // Within a file, report in reading order so the list matches the text top to bottom.
            diagnostics += collector.diagnostics.enumerated().sorted { lhs, rhs in
                let l = lhs.element.location, r = rhs.element.location
                return (l.line, l.column, lhs.offset) < (r.line, r.column, rhs.offset)
            }.map(\.element)
        }
        if diagnostics.isEmpty, whole { diagnostics = builder.crossDocumentProblems() }
        guard diagnostics.isEmpty else { throw ConfigError(diagnostics: diagnostics) }
        var snapshot = builder.build()
        // Only the whole config can tell that a Trigger's Broker or subscriber, or a policy's target, is missing.
        if whole { snapshot.notices += builder.eventNotices(mesh: snapshot.mesh) + builder.delegationNotices() }
        // Traffic and subsets as far as files alone can tell; an apply resolves them against the store.
        if resolve { try RevisionResolver.resolve(&snapshot, revisions: [:], lenient: true) }
        return snapshot
    }

    private static func readChunk(_ yaml: String, collector: DiagnosticCollector, _ body: (Node) -> Void) {
        do {
            let parser = try Parser(yaml: yaml)
            var documents = 0
            while let node = try parser.nextRoot() {
                if node.isNull { continue }
                documents += 1
                // Each document is stored on its own, so each needs its own `---` line.
                guard documents == 1 else {
                    collector.report(at: collector.location(of: node.mark), field: "",
                                     "a second document without a `---` line before it",
                                     fix: "put a line with `---` between documents")
                    continue
                }
                body(node)
            }
        } catch let error as YamlError {
            var location = syntaxLocation(error, yaml: yaml, file: collector.file)
            if location.line > 0 { location.line += collector.lineOffset }
            let fix: String
            if case .duplicatedKeysInMapping = error {
                fix = "keep one of the keys"
            } else {
                fix = "check indentation, colons and quoting at this line"
            }
            collector.report(at: location, field: "", "invalid YAML: \(syntaxMessage(error))", fix: fix)
        } catch {
            collector.report(at: SourceLocation(file: collector.file, line: 0, column: 0), field: "",
                             "invalid YAML: \(error)")
        }
    }

    private static func syntaxLocation(_ error: YamlError, yaml: String, file: String) -> SourceLocation {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return SourceLocation(file: file, line: mark.line, column: mark.column)
        case .duplicatedKeysInMapping(_, let context):
            return SourceLocation(file: file, line: context.mark.line, column: context.mark.column)
        case .reader(_, let offset?, _, _):
            let prefix = yaml.prefix(offset)
            let line = prefix.count { $0 == "\n" } + 1
            let column = prefix.distance(from: prefix.lastIndex(of: "\n").map { prefix.index(after: $0) } ?? prefix.startIndex, to: prefix.endIndex) + 1
            return SourceLocation(file: file, line: line, column: column)
        default:
            return SourceLocation(file: file, line: 0, column: 0)
        }
    }

    private static func syntaxMessage(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _),
             .composer(let context, let problem, _, _):
            guard let context else { return problem }
            return "\(problem), \(context.text)"
        case .duplicatedKeysInMapping(let duplicates, _):
            return "duplicate key \(duplicates.map { "`\($0)`" }.joined(separator: ", ")) in a mapping"
        case .reader(let problem, _, _, _):
            return problem
        default:
            return "\(error)"
        }
    }

    /// The files a path stands for: itself, or a directory's YAML files in name order.
    private static func expand(_ path: String, problems: inout [ConfigDiagnostic]) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            problems.append(fileProblem(path, "no such file or directory", fix: "check the path, or create the file"))
            return []
        }
        guard isDirectory.boolValue else { return [path] }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else {
            problems.append(fileProblem(path, "cannot list the directory", fix: "check its permissions"))
            return []
        }
        let directory = URL(fileURLWithPath: path)
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().compactMap { name in
            let file = directory.appendingPathComponent(name).path
            var isSubdirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: file, isDirectory: &isSubdirectory)
            return exists && !isSubdirectory.boolValue ? file : nil
        }
    }

    private static func fileProblem(_ path: String, _ message: String, fix: String) -> ConfigDiagnostic {
        ConfigDiagnostic(location: SourceLocation(file: path, line: 0, column: 0), field: "", message: message, fix: fix)
    }
}
