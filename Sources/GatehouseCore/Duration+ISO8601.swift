/// Durations as Knative writes them in `delivery` (`backoffDelay`, `timeout`, `retryAfterMax`):
/// ISO 8601 (`PT0.2S`, `PT1M30S`, `P1D`, `P1W`, `P1DT12H`).
extension Duration {
    /// Why a text is not an ISO 8601 duration Gatehouse accepts.
    public enum ISO8601Problem: Error, Hashable, Sendable, CustomStringConvertible {
        /// Not the `P…` shape (or a unit out of order, a missing number, …).
        case malformed
        /// `-PT1S`: a delay cannot be negative.
        case negative
        /// `P1Y`, `P1M`: years and months have no fixed length.
        case calendarUnit
        /// More than Gatehouse represents (about 292 years), or absurdly long text.
        case tooLarge

        public var description: String {
            switch self {
            case .malformed: "not an ISO 8601 duration"
            case .negative: "must not be negative"
            case .calendarUnit: "years and months have no fixed length"
            case .tooLarge: "is too large"
            }
        }
    }

    /// Parses weeks, days, hours, minutes and seconds, in that order, each at most once; the last
    /// one given may have a fraction (`.` or `,`, as ISO 8601 allows). Exact to the nanosecond.
    /// Years and months are refused (`calendarUnit`) rather than guessed at 365.2425 or 30.44 days.
    public static func iso8601(_ text: String) throws(ISO8601Problem) -> Duration {
        // Bounded before any work: no real duration needs more.
        guard text.utf8.count <= 64 else { throw .tooLarge }
        var bytes = Substring(text).utf8[...]
        if bytes.first == UInt8(ascii: "-") { throw .negative }
        if bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        guard bytes.first == UInt8(ascii: "P") else { throw .malformed }
        bytes = bytes.dropFirst()

        var total: Int64 = 0
        var inTime = false
        var components = 0
        // Units already passed (each unit may appear once, in order).
        var rank = -1
        var sawFraction = false
        while let first = bytes.first {
            if first == UInt8(ascii: "T") {
                guard !inTime else { throw .malformed }
                inTime = true
                bytes = bytes.dropFirst()
                guard !bytes.isEmpty else { throw .malformed }
                continue
            }
            guard !sawFraction else { throw .malformed }
            let whole = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            bytes = bytes.dropFirst(whole.count)
            var fraction = bytes.prefix(0)
            if bytes.first == UInt8(ascii: ".") || bytes.first == UInt8(ascii: ",") {
                bytes = bytes.dropFirst()
                fraction = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
                bytes = bytes.dropFirst(fraction.count)
                guard !fraction.isEmpty else { throw .malformed }
                sawFraction = true
            }
            guard !whole.isEmpty, let unit = bytes.first else { throw .malformed }
            bytes = bytes.dropFirst()
            let (unitRank, scale): (Int, Int64)
            switch (inTime, unit) {
            case (false, UInt8(ascii: "Y")), (false, UInt8(ascii: "M")): throw .calendarUnit
            case (false, UInt8(ascii: "W")): (unitRank, scale) = (0, 604_800_000_000_000)
            case (false, UInt8(ascii: "D")): (unitRank, scale) = (1, 86_400_000_000_000)
            case (true, UInt8(ascii: "H")): (unitRank, scale) = (2, 3_600_000_000_000)
            case (true, UInt8(ascii: "M")): (unitRank, scale) = (3, 60_000_000_000)
            case (true, UInt8(ascii: "S")): (unitRank, scale) = (4, 1_000_000_000)
            default: throw .malformed
            }
            guard unitRank > rank else { throw .malformed }
            rank = unitRank
            components += 1
            let amount = try nanoseconds(whole: whole, fraction: fraction, scale: scale)
            let (sum, overflow) = total.addingReportingOverflow(amount)
            guard !overflow else { throw .tooLarge }
            total = sum
        }
        guard components > 0 else { throw .malformed }
        return .nanoseconds(total)
    }

    private static func nanoseconds(
        whole: Substring.UTF8View.SubSequence, fraction: Substring.UTF8View.SubSequence, scale: Int64
    ) throws(ISO8601Problem) -> Int64 {
        var value: Int64 = 0
        for digit in whole {
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (added, o2) = shifted.addingReportingOverflow(Int64(digit - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw .tooLarge }
            value = added
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: scale)
        guard !overflow else { throw .tooLarge }
        value = product
        // Each fraction digit is worth a tenth of the previous one; digits below 1 ns are dropped.
        var place = scale
        for digit in fraction {
            place /= 10
            guard place > 0 else { break }
            value += Int64(digit - UInt8(ascii: "0")) * place
        }
        return value
    }

    /// `PT0.2S`, `PT1M30S`, `P1DT2H`: how Gatehouse prints a delivery duration back, in the form
    /// `iso8601(_:)` reads.
    public var iso8601Description: String {
        var nanos = nanosecondsClamped
        guard nanos > 0 else { return "PT0S" }
        var text = "P"
        let day: Int64 = 86_400_000_000_000
        if nanos >= day {
            text += "\(nanos / day)D"
            nanos %= day
        }
        guard nanos > 0 else { return text }
        text += "T"
        let hour: Int64 = 3_600_000_000_000, minute: Int64 = 60_000_000_000, second: Int64 = 1_000_000_000
        if nanos >= hour {
            text += "\(nanos / hour)H"
            nanos %= hour
        }
        if nanos >= minute {
            text += "\(nanos / minute)M"
            nanos %= minute
        }
        if nanos > 0 {
            let whole = nanos / second, rest = nanos % second
            if rest == 0 {
                text += "\(whole)S"
            } else {
                var digits = String(rest)
                digits = String(repeating: "0", count: 9 - digits.count) + digits
                while digits.hasSuffix("0") { digits.removeLast() }
                text += "\(whole).\(digits)S"
            }
        }
        return text
    }
}
