import Foundation
import GatehouseCore

/// Decodes a Knative `PingSource` (`sources.knative.dev/v1`, and `v1beta2`, whose fields are the
/// same) with Knative's validation — a cron `schedule` (default `* * * * *`), an IANA `timezone`,
/// `data` or `dataBase64` but not both, JSON data when `contentType` is `application/json` — and
/// Gatehouse's bound on the data (`PingSourceSpec.maxDataBytes`).
enum PingSourceDecoder {
    static func decode(_ envelope: DocumentEnvelope) -> (spec: PingSourceSpec?, notices: [String]) {
        // One DNS label, no dots: the name is part of a trigger's service account
        // (`gatehouse-broker.BROKER.TRIGGER`), which must read one way only.
        if let nameValue = envelope.nameValue, let problem = NameRules.dns1123LabelProblem(envelope.name) {
            nameValue.report(problem, fix: "write `name: \(NameRules.suggestedLabel(for: envelope.name))`")
        }
        var notices: [String] = []
        defer { envelope.root.reportUnknownKeys() }
        guard let spec = envelope.root.required("spec", fix: "add `spec:` with `schedule:` and `sink:`")?.mapping() else {
            return (nil, notices)
        }
        defer { spec.reportUnknownKeys() }
        let timezone = spec.field("timezone").flatMap(timeZone)
        let scheduleValue = spec.field("schedule")
        let schedule = scheduleValue.map { self.schedule($0, hasTimezone: timezone != nil) } ?? "* * * * *"
        let contentType = spec.field("contentType")?.string()
        let data = self.data(spec, contentType: contentType)
        var extensions: [String: String] = [:]
        if let overrides = spec.field("ceOverrides")?.mapping() {
            defer { overrides.reportUnknownKeys() }
            if let value = overrides.field("extensions") { extensions = self.extensions(value) }
        }
        let sinkValue = spec.required("sink", fix: "add `sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}`")
        let sink = sinkValue.flatMap { EventDestinationDecoder.decode($0, namespace: envelope.namespace, allowingBroker: true, notices: &notices) }
        guard let schedule, let sink, data.valid else { return (nil, notices) }
        let target: PingSourceSpec.Sink
        switch sink {
        case .broker(let namespace, let name): target = .broker(namespace: namespace, name: name)
        case .destination(let destination): target = .destination(destination)
        }
        return (PingSourceSpec(
            namespace: envelope.namespace, name: envelope.name, schedule: schedule, timezone: timezone, contentType: contentType,
            data: data.bytes, sink: target, extensions: extensions, source: envelope.location), notices)
    }

    private static func timeZone(_ value: YAMLValue) -> String? {
        guard let name = value.string() else { return nil }
        guard TimeZone(identifier: name) != nil else {
            let suggestion = Spelling.suggestion(for: name, among: TimeZone.knownTimeZoneIdentifiers)
            value.report("unknown time zone \"\(name)\"", fix: suggestion.map { "did you mean `\($0)`?" } ?? "write an IANA name such as `Europe/Paris` or `UTC`")
            return nil
        }
        return name
    }

    private static func schedule(_ value: YAMLValue, hasTimezone: Bool) -> String? {
        guard let text = value.string() else { return nil }
        let fix = "write five fields, minute hour day-of-month month day-of-week, e.g. \"*/5 * * * *\" or \"0 9 * * MON-FRI\""
        // Knative puts `timezone` in front as `CRON_TZ=`: a schedule with its own is refused there.
        if hasTimezone, text.hasPrefix("CRON_TZ=") || text.hasPrefix("TZ=") {
            value.report("both `timezone` and a time zone prefix in the schedule", fix: "keep `timezone` and remove the prefix")
            return nil
        }
        do {
            _ = try CronSchedule(parsing: text)
            return text
        } catch {
            value.report("invalid schedule: \(error.message)", fix: fix)
            return nil
        }
    }

    /// `data` (UTF-8 text) or `dataBase64`; `valid` false when something was reported.
    private static func data(_ spec: YAMLMappingReader, contentType: String?) -> (bytes: [UInt8]?, valid: Bool) {
        let text = spec.field("data")
        let encoded = spec.field("dataBase64")
        if text != nil, encoded != nil {
            spec.diagnostics.report(
                at: spec.location, field: spec.fieldPath("dataBase64"), "`data` and `dataBase64` cannot both be set", fix: "keep one of them")
            return (nil, false)
        }
        guard let value = text ?? encoded else { return (nil, true) }
        guard let string = value.string() else { return (nil, false) }
        var bytes = Array(string.utf8)
        if encoded != nil {
            guard string.utf8.count <= PingSourceSpec.maxDataBytes * 4 / 3 + 4,
                  let decoded = Data(base64Encoded: string, options: [.ignoreUnknownCharacters]), isBase64(string) else {
                value.report("is not valid base64", fix: "encode the bytes with standard base64 (e.g. `base64 -w0 file`)")
                return (nil, false)
            }
            bytes = Array(decoded)
        }
        guard bytes.count <= PingSourceSpec.maxDataBytes else {
            value.report(
                "is \(bytes.count) bytes; a PingSource's data may be at most \(PingSourceSpec.maxDataBytes) bytes",
                fix: "send a smaller payload (a reference to the data rather than the data)")
            return (nil, false)
        }
        // As Knative: with contentType application/json, the data must be a JSON object.
        if contentType == "application/json" {
            let object = try? JSONSerialization.jsonObject(with: Data(bytes))
            guard object is [String: Any] else {
                value.report("contentType is application/json but the data is not a JSON object", fix: "write a JSON object such as '{\"message\": \"hello\"}'")
                return (nil, false)
            }
        }
        return (bytes, true)
    }

    /// Standard alphabet; whitespace (YAML folding) allowed.
    private static func isBase64(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { scalar in
            ("A"..."Z").contains(scalar) || ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
                || "+/=".unicodeScalars.contains(scalar) || scalar.properties.isWhitespace
        }
    }

    /// `ceOverrides.extensions`: CloudEvents extension names, not context attributes.
    private static func extensions(_ value: YAMLValue) -> [String: String] {
        guard let map = value.stringMap() else { return [:] }
        var kept: [String: String] = [:]
        for (name, text) in map.sorted(by: { $0.key < $1.key }) {
            if !EventAttributeName.isValid(name) {
                value.report("extension name \"\(name)\" must be lowercase letters and digits, starting with a letter",
                             fix: "write `\(EventAttributeName.suggestion(for: name))`")
            } else if CloudEvent.contextAttributeNames.contains(name) || name == "data" {
                value.report("\"\(name)\" is a CloudEvents attribute, not an extension; it cannot be overridden",
                             fix: "remove it, or use another name")
            } else {
                kept[name] = text
            }
        }
        return kept
    }
}
