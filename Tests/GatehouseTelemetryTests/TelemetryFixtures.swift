import GatehouseCore

/// The function most telemetry tests send requests to.
let helloSpec = FunctionSpec(
    name: "hello", labels: ["app": "hello", "version": "v1"], process: .init(command: ["true"]))

/// A finished request as the pipeline leaves it, with the fields telemetry reads.
func finishedRequest(
    to destination: FunctionDestination?, code: Int, flags: ResponseFlags = [], duration: Duration = .milliseconds(5),
    received: Int = 0, sent: Int = 0
) -> RequestRecord {
    var record = RequestRecord(
        requestId: "req-1", startWallNanos: 1_709_618_828_009_123_456, start: .now, method: "GET", path: "/",
        httpProtocol: "HTTP/1.1", authority: "hello.default.localhost")
    record.destination = destination
    record.responseCode = code
    record.responseFlags = flags
    record.duration = duration
    record.bytesReceived = received
    record.bytesSent = sent
    return record
}

/// A Prometheus text exposition, parsed just enough to ask for one sample by name and labels.
struct Exposition {
    struct Sample {
        var name: String
        var labels: [(name: String, value: String)]
        var value: Double

        func label(_ name: String) -> String? { labels.first { $0.name == name }?.value }
    }

    let lines: [String]
    let samples: [Sample]

    init(_ bytes: [UInt8]) {
        lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        samples = lines.filter { !$0.hasPrefix("#") }.compactMap(Self.parse)
    }

    /// Metric names announced by `# HELP` or `# TYPE` lines.
    func announced(_ keyword: String) -> Set<String> {
        Set(lines.compactMap { line in
            let words = line.split(separator: " ")
            return words.count >= 3 && words[0] == "#" && words[1] == keyword ? String(words[2]) : nil
        })
    }

    func samples(_ name: String, _ labels: [String: String] = [:]) -> [Sample] {
        samples.filter { sample in
            sample.name == name && labels.allSatisfy { sample.label($0.key) == $0.value }
        }
    }

    /// The value of the one sample with this name and these labels (nil if there is none, or several).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples(name, labels)
        return matching.count == 1 ? matching[0].value : nil
    }

    private static func parse(_ line: String) -> Sample? {
        var rest = Substring(line)
        let name = rest.prefix { $0 != "{" && $0 != " " }
        rest = rest.dropFirst(name.count)
        var labels: [(name: String, value: String)] = []
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let labelName = rest.prefix { $0 != "=" }
                rest = rest.dropFirst(labelName.count + 2)  // `="`
                var value = ""
                while let character = rest.first, character != "\"" {
                    rest = rest.dropFirst()
                    if character == "\\", let escaped = rest.first {
                        rest = rest.dropFirst()
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else {
                        value.append(character)
                    }
                }
                rest = rest.dropFirst()  // closing quote
                if rest.first == "," { rest = rest.dropFirst() }
                labels.append((String(labelName), value))
                if rest.isEmpty { return nil }
            }
            rest = rest.dropFirst()
        }
        guard let value = Double(rest.trimmingPrefix(" ")) else { return nil }
        return Sample(name: String(name), labels: labels, value: value)
    }
}
