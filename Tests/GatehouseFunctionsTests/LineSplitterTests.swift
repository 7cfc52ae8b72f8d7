import Testing

@testable import GatehouseFunctions

/// How a function's stdout and stderr become log lines.
@Suite("Line splitter")
struct LineSplitterTests {
    /// Feeds `chunks` one at a time, as reads from a pipe arrive, and collects the emitted lines.
    func lines(_ chunks: [String], maxLength: Int = 1024, finish: Bool = true) -> [String] {
        var splitter = LineSplitter(maxLength: maxLength)
        var emitted: [String] = []
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { splitter.feed($0) { emitted.append($0) } }
        }
        if finish { splitter.finish { emitted.append($0) } }
        return emitted
    }

    @Test("Lines end at \\n; empty lines are kept")
    func newlines() {
        #expect(lines(["one\ntwo\n"]) == ["one", "two"])
        #expect(lines(["\n\n"]) == ["", ""])
    }

    @Test("\\r\\n ends a line like \\n, even when the two bytes arrive in different reads")
    func crlf() {
        #expect(lines(["one\r\ntwo\r\n"]) == ["one", "two"])
        #expect(lines(["one\r", "\ntwo\n"]) == ["one", "two"])
        #expect(lines(["a\rb\n"]) == ["a\rb"])
    }

    @Test("A line split across reads is emitted once, whole")
    func chunked() {
        #expect(lines(["hel", "lo\nwor", "ld\n"]) == ["hello", "world"])
    }

    @Test("finish emits an unterminated last line, and nothing when there is none")
    func finish() {
        #expect(lines(["done\ntail"], finish: false) == ["done"])
        #expect(lines(["done\ntail"]) == ["done", "tail"])
        #expect(lines(["done\n"]) == ["done"])
        #expect(lines([]) == [])
    }

    @Test("A line longer than maxLength is cut there; the rest of it is dropped, not emitted as more lines")
    func longLinesAreCut() {
        #expect(lines(["abcdefgh\nxy\n"], maxLength: 4) == ["abcd", "xy"])
        #expect(lines(["abcd", "efgh", "\nxy"], maxLength: 4) == ["abcd", "xy"])
        #expect(lines(["abcd\r\n"], maxLength: 4) == ["abcd"])
    }

    @Test("A cut through a multi-byte character leaves valid text with a replacement character")
    func cutThroughUTF8() {
        // "éé" is C3 A9 C3 A9; a cut after three bytes leaves a lone C3.
        #expect(lines(["éé\n"], maxLength: 3) == ["é\u{FFFD}"])
    }
}
