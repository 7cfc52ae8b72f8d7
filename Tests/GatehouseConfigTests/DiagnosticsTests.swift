import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Diagnostics")
struct DiagnosticsTests {
    @Test("a YAML syntax error becomes a diagnostic at the line the parser reports")
    func syntaxError() {
        let found = diagnostics("""
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata:
          name: hello
         bad: [unclosed
        """)
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("invalid YAML:") == true)
        #expect(found.first?.location.line == 5)
        #expect(found.first?.field == "")
    }

    @Test("documents around a syntax error are still checked")
    func errorsBeforeSyntaxError() {
        let found = diagnostics(functionDocument(spec: "  timeout: 5") + "\n---\nkey: [\n---\n" + functionDocument(name: "Other"))
        #expect(found.map(\.field) == ["spec.timeout", "", "metadata.name"])
        #expect(found.map(\.location.line) == [8, 11, 15])
    }

    @Test("every problem in a file is reported at once, in line order")
    func manyErrors() {
        let found = diagnostics("""
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata:
          name: Bad_Name
        spec:
          process:
            command: "./server"
          scaling:
            maxInstances: ten
            concurency: 5
          timeout: forever
        ---
        apiVersion: gatehouse.dev/v1
        kind: Mesh
        metadata: {name: m}
        spec:
          domian: example.org
        """)
        #expect(found.map(\.location.line) == [4, 7, 9, 10, 11, 17])
        #expect(found.map(\.field) == [
            "metadata.name", "spec.process.command", "spec.scaling.maxInstances",
            "spec.scaling.concurency", "spec.timeout", "spec.domian",
        ])
        #expect(found.last?.fix == "did you mean `domain`?")
    }

    @Test("strings are not silently taken from numbers or booleans")
    func strictStrings() {
        let found = diagnostics(functionDocument(spec: "  functionTarget: 42"))
        #expect(found.map(\.message) == ["expected a string, got 42"])
        #expect(found.first?.fix == "quote it: \"42\"")
    }

    @Test("a quoted number where an integer belongs gets a precise fix")
    func quotedInteger() {
        let found = diagnostics(functionDocument(spec: "  scaling:\n    concurrency: \"10\""))
        #expect(found.first?.fix == "write 10 without quotes")
    }

    @Test("descriptions leave out what is empty")
    func descriptions() {
        let whole = ConfigDiagnostic(location: .init(file: "a.yaml", line: 3, column: 1), field: "", message: "bad")
        #expect(whole.description == "a.yaml:3:1: bad")
        let noLine = ConfigDiagnostic(location: .init(file: "gone.yaml", line: 0, column: 0), field: "", message: "no such file or directory", fix: "check the path")
        #expect(noLine.description == "gone.yaml: no such file or directory (fix: check the path)")
        #expect(ConfigError(diagnostics: [whole, noLine]).description == whole.description + "\n" + noLine.description)
    }
}

@Suite("One mistake, one message")
struct OneMessageTests {
    @Test("A misspelled required field is one diagnostic, at the misspelling, naming the field meant")
    func misspelledRequired() {
        let found = diagnostics("""
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata:
          name: hello
        spec:
          process:
            comand: ["./server"]
        """)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.field == "spec.process.comand")
        #expect(found.first?.location.line == 7)
        #expect(found.first?.message.contains("required field `command` is missing") == true)
        #expect(found.first?.fix == "did you mean `command`?")
    }

    @Test("A missing field with no look-alike, and an unknown key that resembles nothing required, stay two messages")
    func unrelated() {
        let found = diagnostics("""
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata:
          name: hello
        spec:
          process:
            arg: ["x"]
        """)
        #expect(found.map(\.field).sorted() == ["spec.process.arg", "spec.process.command"], "\(found)")
        #expect(found.first { $0.field == "spec.process.arg" }?.fix == "did you mean `args`?")
    }
}
