/// Durations as Kubernetes and Istio write them: Go's `time.ParseDuration` syntax
/// (`"300s"`, `"500ms"`, `"1m30s"`, `"1.5h"`; units ns, us, µs, ms, s, m, h).
extension Duration {
    public init?(parsing text: String) {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var total: Double = 0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            guard let nanosPerUnit = Self.nanosecondsPerUnit[String(unit)] else { return nil }
            total += value * nanosPerUnit
        }
        guard total.isFinite, total < Double(Int64.max) else { return nil }
        self = .nanoseconds(Int64(total))
    }

    /// `"300s"`, `"1.5s"`, `"250ms"`: how Gatehouse prints a duration back to a person.
    public var gatehouseDescription: String {
        let nanos = components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
        if nanos % 1_000_000_000 == 0 { return "\(nanos / 1_000_000_000)s" }
        if nanos % 1_000_000 == 0 { return "\(nanos / 1_000_000)ms" }
        return "\(Double(nanos) / 1e9)s"
    }

    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    private static let nanosecondsPerUnit: [String: Double] = [
        "ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9,
    ]
}

extension Duration {
    /// Whole nanoseconds, clamped to `Int64` (for APIs such as NIO's `TimeAmount`).
    public var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled &+ attoseconds / 1_000_000_000
    }
}
