/// Durations as Kubernetes and Istio write them: Go's `time.ParseDuration` syntax
/// (`"300s"`, `"500ms"`, `"1m30s"`, `"1.5h"`; units ns, us, µs, μs, ms, s, m, h).
extension Duration {
    /// Parses exactly, in integer nanoseconds as Go does (`"4.1s"` is 4 100 000 000 ns, not one less).
    public init?(parsing text: String) {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var total: Int64 = 0
        while !rest.isEmpty {
            let whole = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(whole.count)
            var fraction = Substring("")
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix { $0.isASCII && $0.isNumber }
                rest = rest.dropFirst(fraction.count)
            }
            guard !whole.isEmpty || !fraction.isEmpty else { return nil }
            let unit = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            rest = rest.dropFirst(unit.count)
            guard let scale = Self.nanosecondsPerUnit[String(unit)],
                  let amount = Self.nanoseconds(whole: whole, fraction: fraction, scale: scale) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(amount)
            guard !overflow else { return nil }
            total = sum
        }
        self = .nanoseconds(total)
    }

    private static func nanoseconds(whole: Substring, fraction: Substring, scale: Int64) -> Int64? {
        var value: Int64 = 0
        if !whole.isEmpty {
            guard let number = Int64(whole) else { return nil }
            let (product, overflow) = number.multipliedReportingOverflow(by: scale)
            guard !overflow else { return nil }
            value = product
        }
        // Each fraction digit is worth a tenth of the previous one; digits below 1 ns are dropped.
        var place = scale
        for digit in fraction {
            place /= 10
            guard place > 0 else { break }
            value += Int64(digit.wholeNumberValue!) * place
        }
        return value
    }

    /// `"300s"`, `"1500ms"`, `"250us"`: how Gatehouse prints a duration back to a person, in the
    /// largest unit that keeps it whole (and that `Duration(parsing:)` reads back).
    public var gatehouseDescription: String {
        let nanos = nanosecondsClamped
        if nanos % 1_000_000_000 == 0 { return "\(nanos / 1_000_000_000)s" }
        if nanos % 1_000_000 == 0 { return "\(nanos / 1_000_000)ms" }
        if nanos % 1_000 == 0 { return "\(nanos / 1_000)us" }
        return "\(nanos)ns"
    }

    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Whole nanoseconds, clamped to `Int64` (for APIs such as NIO's `TimeAmount`).
    public var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, sumOverflow) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if sumOverflow { return seconds < 0 ? .min : .max }
        return sum
    }

    private static let nanosecondsPerUnit: [String: Int64] = [
        "ns": 1, "us": 1_000, "\u{00B5}s": 1_000, "\u{03BC}s": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
        "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]
}
