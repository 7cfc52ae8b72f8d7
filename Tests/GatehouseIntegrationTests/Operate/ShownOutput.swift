import Foundation

/// What a page shows a command printing, as a pattern its real output must match: how the README
/// and the docs stay true to the binary.
///
/// The placeholder convention (say it in the page's words, not as regular expressions):
///
/// - A line that is only `…` stands for any number of lines left out (none included).
/// - `…` inside a line stands for any text left out of it.
/// - An **elided id**, four or more lowercase hex digits then `…` (`5c0e…`), names one value for the
///   whole page: where an output shows it first, it matches any id (a request id, a trace id) and
///   remembers it; afterwards it stands for that same value — a command gets the full value, and an
///   output must show it again, whole or abbreviated.
/// - Values that change from run to run are shown as an example of their kind and match any value
///   of that kind: a full 32-hex trace id; ISO 8601 times (`2026-11-28T01:28:35.601Z`) and clock
///   times (`01:28:35`); durations
///   (`59.2 ms`, `"duration":159`, `"upstream_service_time":1`); ages (`4s ago`); process ids
///   (`"pid": 4242`); ports other than the three listeners (`127.0.0.1:45417`).
/// - The listeners' ports (`8080`, `15443`, `15000`) are the real ones: the test gives Gatehouse free
///   ports and maps them back before it compares. Likewise `/tmp/` is the reader's folder (the
///   test's own), and `you@host` / `you` the user running the commands (as the history names them).
///
/// Everything else — statuses, codes, messages, names, revisions, columns and their order — must be
/// exactly as shown. Trailing spaces are ignored; consecutive shown lines must be consecutive in the
/// output, and the shown lines may start anywhere in it.
struct ShownOutput {
    enum Line {
        /// A line-pattern, with the names of its elided ids in capture order.
        case line(Regex<AnyRegexOutput>, ids: [String], text: String)
        case gap
    }

    let lines: [Line]

    init(_ shown: [String]) throws {
        lines = try shown.map { line in
            let text = Self.trimmed(line)
            if text.trimmingCharacters(in: .whitespaces) == "…" { return .gap }
            let (pattern, ids) = Self.pattern(text)
            return .line(try Regex(pattern), ids: ids, text: text)
        }
    }

    /// The ids captured where the shown lines match `output` consistently with `bound` (an id seen
    /// before must be the same value), or nil when they do not match anywhere.
    func match(_ output: String, bound: [String: String]) -> [String: String]? {
        let outputLines = output.components(separatedBy: "\n").map(Self.trimmed)
        for start in 0...outputLines.count {
            if let found = match(from: 0, at: start, in: outputLines, bound: bound) { return found }
        }
        return nil
    }

    private func match(from index: Int, at position: Int, in output: [String], bound: [String: String]) -> [String: String]? {
        guard index < lines.count else { return bound }
        switch lines[index] {
        case .gap:
            for next in position...output.count {
                if let found = match(from: index + 1, at: next, in: output, bound: bound) { return found }
            }
            return nil
        case .line(let regex, let ids, _):
            guard position < output.count, let found = try? regex.wholeMatch(in: output[position]) else { return nil }
            var bound = bound
            for (offset, name) in ids.enumerated() {
                guard let value = found.output[offset + 1].substring.map(String.init) else { continue }
                if let known = bound[name] {
                    // Shown again: the same value, whole or abbreviated (`5c0e…`).
                    let shown = value.hasSuffix("…") ? String(value.dropLast()) : value
                    guard known == shown || (value.hasSuffix("…") && known.hasPrefix(shown)) else { return nil }
                } else {
                    guard !value.hasSuffix("…") else { return nil }
                    bound[name] = value
                }
            }
            return match(from: index + 1, at: position + 1, in: output, bound: bound)
        }
    }

    private static func trimmed(_ line: String) -> String {
        var line = Substring(line)
        while let last = line.last, last == " " || last == "\r" { line = line.dropLast() }
        return String(line)
    }

    /// The kinds of text that stand for something else, tried in order at each position.
    private static func makeRules() -> [(Regex<AnyRegexOutput>, (Substring) -> String)] { [
        // An elided id: captured, remembered by its shown prefix.
        (try! Regex("[0-9a-f]{4,}…"), { _ in "([0-9A-Za-z][0-9A-Za-z-]*…?)" }),
        (try! Regex("[0-9a-f]{32}"), { _ in "[0-9a-f]{32}" }),
        (try! Regex("…"), { _ in ".*" }),
        (try! Regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z?"), { text in
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+" + (text.hasSuffix("Z") ? "Z" : "")
        }),
        (try! Regex("[0-9]{2}:[0-9]{2}:[0-9]{2}"), { _ in "[0-9]{2}:[0-9]{2}:[0-9]{2}" }),
        (try! Regex("[0-9]+(\\.[0-9]+)? ms"), { _ in "[0-9]+(?:\\.[0-9]+)? ms" }),
        (try! Regex("\"(duration|upstream_service_time)\":[0-9]+"), { text in
            "\"" + text.dropFirst().prefix { $0 != "\"" } + "\":[0-9]+"
        }),
        (try! Regex("[0-9]+[smhd] ago"), { _ in "[0-9]+[smhd] ago" }),
        (try! Regex("\"pid\": [0-9]+"), { _ in "\"pid\": [0-9]+" }),
        (try! Regex("127\\.0\\.0\\.1:[0-9]+"), { text in
            ["8080", "15000", "15443"].contains(String(text.dropFirst(10))) ? escape(text) : "127\\.0\\.0\\.1:[0-9]+"
        }),
    ] }

    /// A shown line as a regular expression, and the names of the elided ids it captures.
    static func pattern(_ line: String) -> (String, [String]) {
        var pattern = ""
        var ids: [String] = []
        var rest = Substring(line)
        var previous: Character?
        let rules = makeRules()
        next: while !rest.isEmpty {
            // A rule starts a token only at a word's start: `added…` is a word cut short, not an id.
            let atWordStart = !(previous.map { $0.isLetter || $0.isNumber } ?? false)
            for (rule, replacement) in rules {
                if let found = try? rule.prefixMatch(in: rest), atWordStart || rest.first == "…" {
                    let text = rest[found.range]
                    if text.count > 1, text.hasSuffix("…"), text.first != "…" { ids.append(String(text.dropLast())) }
                    pattern += replacement(text)
                    previous = text.last
                    rest = rest[found.range.upperBound...]
                    continue next
                }
            }
            pattern += escape(rest.prefix(1))
            previous = rest.first
            rest = rest.dropFirst()
        }
        return (pattern, ids)
    }

    private static func escape(_ text: Substring) -> String {
        var escaped = ""
        for character in text {
            if "\\^$.|?*+()[]{}".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
