/// Splits a YAML stream at its `---` lines so each document is parsed on its own:
/// a syntax error then costs only its own document, and the others are still checked.
enum YAMLDocuments {
    struct Chunk {
        var text: String
        /// Lines of the file before this chunk, added to every line the parser reports.
        var lineOffset: Int
    }

    static func split(_ yaml: String) -> [Chunk] {
        var chunks: [Chunk] = []
        var current: [Substring] = []
        var start = 0
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            if isDocumentStart(line), !current.isEmpty {
                chunks.append(Chunk(text: current.joined(separator: "\n"), lineOffset: start))
                current = []
                start = index
            }
            current.append(line)
        }
        chunks.append(Chunk(text: current.joined(separator: "\n"), lineOffset: start))
        return chunks
    }

    /// `---` at column 1, alone or followed by whitespace (`--- # comment`, `--- {a: 1}`).
    private static func isDocumentStart(_ line: Substring) -> Bool {
        guard line.hasPrefix("---") else { return false }
        let rest = line.dropFirst(3)
        return rest.isEmpty || rest.first == " " || rest.first == "\t" || rest.first == "\r"
    }
}
