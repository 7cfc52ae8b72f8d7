import GatehouseCore

/// Decodes a `gatehouse.dev/v1` `Function` strictly: unknown fields, wrong types and out-of-range values
/// are all reported, and the best-effort result is only used when nothing was reported.
enum FunctionDecoder {
    static let signatureTypes = ["http", "event", "cloudevent"]

    static func decode(_ envelope: DocumentEnvelope) -> FunctionSpec {
        if let nameValue = envelope.nameValue, let problem = NameRules.dns1123LabelProblem(envelope.name) {
            nameValue.report(problem, fix: "write `name: \(NameRules.suggestedLabel(for: envelope.name))`")
        }
        var function = FunctionSpec(
            name: envelope.name, namespace: envelope.namespace, labels: envelope.labels,
            process: .init(command: []), source: envelope.location)
        defer { envelope.root.reportUnknownKeys() }
        guard let spec = envelope.root.required("spec", fix: "add `spec:` with a `process.command`")?.mapping() else {
            return function
        }
        // A process to run, or a remote endpoint to call: exactly one.
        if let remote = spec.field("remote") {
            if let process = spec.field("process") {
                process.report("a function has either `process` or `remote`, not both", fix: "remove `process:` to call the remote URL, or `remote:` to run the process")
            }
            if let remote = remote.mapping() { function.remote = decodeRemote(remote) }
        } else if let process = spec.required("process", fix: "add `process:` with `command: [\"./server\"]` (or `remote: {url: https://…}`)")?.mapping() {
            function.process = decodeProcess(process)
        }
        if let value = spec.field("serviceAccount"), let serviceAccount = value.string() {
            // Gatehouse's own identities: a function holding one could act as the gateway or sign audit checkpoints.
            if ReservedServiceAccounts.contains(serviceAccount) {
                value.report(
                    "service account \"\(serviceAccount)\" is reserved for Gatehouse itself (\((ReservedServiceAccounts.all.sorted() + [ReservedServiceAccounts.brokerPrefix + "*", ReservedServiceAccounts.pingSourcePrefix + "*"]).joined(separator: ", ")))",
                    fix: "write another name, e.g. `serviceAccount: \(envelope.name)`")
            } else {
                function.serviceAccount = serviceAccount
            }
        }
        if let scaling = spec.field("scaling")?.mapping() {
            function.scaling = decodeScaling(scaling)
        }
        if let timeout = spec.field("timeout")?.positiveDuration() { function.timeout = timeout }
        if let idle = spec.field("idleTimeout")?.positiveDuration() { function.idleTimeout = idle }
        if let startup = spec.field("startupTimeout")?.positiveDuration() { function.startupTimeout = startup }
        function.functionTarget = spec.field("functionTarget")?.string()
        if let value = spec.field("signatureType"), let signature = value.string() {
            if signatureTypes.contains(signature) {
                function.signatureType = signature
            } else {
                let suggestion = Spelling.suggestion(for: signature, among: signatureTypes)
                value.report(
                    "unknown signature type \"\(signature)\"; allowed: \(signatureTypes.joined(separator: ", "))",
                    fix: suggestion.map { "write `signatureType: \($0)`" } ?? "write one of http, event, cloudevent")
            }
        }
        if let traffic = spec.field("traffic") {
            function.traffic = decodeTraffic(traffic, function: envelope.name)
        }
        spec.reportUnknownKeys()
        return function
    }

    /// Knative's `spec.traffic`: targets naming a revision or the latest, percentages adding up
    /// to 100, tags that are unique DNS labels. Whether a named revision exists is checked on
    /// apply, against the store.
    private static func decodeTraffic(_ value: YAMLValue, function: String) -> [TrafficTarget] {
        guard let entries = value.sequence() else { return [] }
        var targets: [TrafficTarget] = []
        for entry in entries {
            guard let mapping = entry.mapping() else { continue }
            defer { mapping.reportUnknownKeys() }
            var target = TrafficTarget(percent: 0, source: mapping.location)
            let nameValue = mapping.field("revisionName")
            target.revisionName = nameValue?.string()
            // Knative's default: a target without a revision name follows the latest.
            let latestValue = mapping.field("latestRevision")
            target.latestRevision = latestValue?.bool() ?? (nameValue == nil)
            if let nameValue, target.revisionName != nil, target.latestRevision {
                nameValue.report("a target names a revision or is the latest, not both", fix: "remove `revisionName:` or `latestRevision: true`")
            } else if let latestValue, nameValue == nil, !target.latestRevision {
                latestValue.report(
                    "`latestRevision: false` needs a revision",
                    fix: "add `revisionName: \(FunctionSpec.revisionName(function, number: 1))`, or write `latestRevision: true`")
            }
            if let name = target.revisionName, let nameValue, !name.hasPrefix("\(function)-") {
                nameValue.report("\"\(name)\" is not a revision of \(function)", fix: "write `\(FunctionSpec.revisionName(function, number: 1))` (see `gatehouse get revisions \(function)`)")
            }
            if let percent = mapping.field("percent") {
                if let number = percent.int() {
                    if (0...100).contains(number) { target.percent = number } else { percent.report("must be a percentage from 0 to 100", fix: "write e.g. `percent: 10`") }
                }
            }
            if let tagValue = mapping.field("tag"), let tag = tagValue.string() {
                if let problem = NameRules.dns1123LabelProblem(tag) {
                    tagValue.report(problem, fix: "write `tag: \(NameRules.suggestedLabel(for: tag))`")
                } else if targets.contains(where: { $0.tag == tag }) {
                    tagValue.report("a second target tagged \"\(tag)\"", fix: "give each tag to one target")
                }
                target.tag = tag
            }
            targets.append(target)
        }
        let total = targets.reduce(0) { $0 + $1.percent }
        if !targets.isEmpty, total != 100 {
            value.report("the traffic targets' percentages add up to \(total), not 100", fix: "give the targets `percent:` values that add up to 100")
        }
        return targets
    }

    private static func decodeProcess(_ process: YAMLMappingReader) -> FunctionSpec.ProcessSpec {
        var result = FunctionSpec.ProcessSpec(command: [])
        if let commandValue = process.required("command", fix: "add `command: [\"./server\"]`"),
           let command = commandValue.stringList() {
            if command.isEmpty {
                commandValue.report("must name at least the program to run", fix: "write e.g. `command: [\"./server\"]`")
            }
            result.command = command
        }
        result.args = process.field("args")?.stringList() ?? []
        if let env = process.field("env")?.sequence() {
            result.env = env.compactMap(decodeEnvVar)
        }
        result.workingDir = process.field("workingDir")?.string()
        if let field = process.field("inheritEnv"), let names = field.stringList() {
            for name in names where name.isEmpty || name.contains("=") {
                field.report("\"\(name)\" is not an environment variable name", fix: "list names only, e.g. `inheritEnv: [AWS_REGION]`")
            }
            result.inheritEnv = names
        }
        for key in ["runAsUser", "runAsGroup"] {
            guard let field = process.field(key), let id = field.int() else { continue }
            guard (1...Int(UInt32.max - 1)).contains(id) else {
                // 0 is root: a function as root is no function isolation at all.
                field.report("must be an unprivileged numeric id from 1 to 4294967294, got \(id)", fix: "write e.g. `\(key): 70000`")
                continue
            }
            if key == "runAsUser" { result.runAsUser = id } else { result.runAsGroup = id }
        }
        if let field = process.field("protocol"), let name = field.string() {
            if let value = FunctionSpec.UpstreamProtocol(rawValue: name) {
                result.protocol = value
            } else {
                let names = FunctionSpec.UpstreamProtocol.allCases.map(\.rawValue).joined(separator: " or ")
                field.report("unknown protocol \"\(name)\"", fix: "write \(names) (h2c for a gRPC or other HTTP/2 server without TLS)")
            }
        }
        process.reportUnknownKeys()
        return result
    }

    private static func decodeRemote(_ remote: YAMLMappingReader) -> RemoteEndpoint? {
        defer { remote.reportUnknownKeys() }
        guard let value = remote.required("url", fix: "add `url: https://REGION-PROJECT.cloudfunctions.net/NAME`"), let url = value.string() else {
            return nil
        }
        switch RemoteEndpoint.parse(url) {
        case .success(let endpoint): return endpoint
        case .failure(let problem):
            value.report(problem.description, fix: "write an absolute URL such as `https://api.example.com/hello`")
            return nil
        }
    }

    private static func decodeEnvVar(_ value: YAMLValue) -> FunctionSpec.EnvVar? {
        guard let entry = value.mapping() else { return nil }
        let name = entry.required("name", fix: "add `name: VARIABLE_NAME`")?.string()
        // Unquoted `8080` or `true` clearly mean the text; Kubernetes would reject them, Gatehouse is kinder.
        let text = entry.required("value", fix: "add `value: \"...\"`")?.text()
        entry.reportUnknownKeys()
        guard let name, let text else { return nil }
        if name.isEmpty || name.contains("=") {
            entry.field("name")?.report("\"\(name)\" is not a valid environment variable name", fix: "use letters, digits and '_', e.g. LOG_LEVEL")
        }
        return FunctionSpec.EnvVar(name: name, value: text)
    }

    private static func decodeScaling(_ scaling: YAMLMappingReader) -> FunctionSpec.Scaling {
        var result = FunctionSpec.Scaling()
        let minValue = scaling.field("minInstances")
        let minInstances = bounded(minValue, 0...Int.max)
        let maxValue = scaling.field("maxInstances")
        let maxInstances = bounded(maxValue, 1...Int.max)
        if let concurrency = bounded(scaling.field("concurrency"), 1...1000) { result.concurrency = concurrency }
        if let maxQueue = bounded(scaling.field("maxQueue"), 0...100_000) { result.maxQueue = maxQueue }
        if let minInstances { result.minInstances = minInstances }
        if let maxInstances { result.maxInstances = maxInstances }
        // Compare only values that were read successfully; a bad maxInstances is reported on its own.
        if let minValue, minInstances != nil, maxValue == nil || maxInstances != nil,
           result.minInstances > result.maxInstances {
            minValue.report(
                "minInstances (\(result.minInstances)) is greater than maxInstances (\(result.maxInstances))",
                fix: "lower minInstances to at most \(result.maxInstances), or raise maxInstances")
        }
        scaling.reportUnknownKeys()
        return result
    }

    /// An integer within `range`, else reported and nil.
    private static func bounded(_ value: YAMLValue?, _ range: ClosedRange<Int>) -> Int? {
        guard let value, let number = value.int() else { return nil }
        if number < range.lowerBound {
            value.report("must be at least \(range.lowerBound), got \(number)", fix: "write \(range.lowerBound) or more")
            return nil
        }
        if number > range.upperBound {
            value.report("must be at most \(range.upperBound), got \(number)", fix: "write \(range.upperBound) or less")
            return nil
        }
        return number
    }
}
