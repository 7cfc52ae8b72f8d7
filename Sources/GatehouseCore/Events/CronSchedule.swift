import Foundation

/// A PingSource `schedule`: standard five-field cron (minute, hour, day of month, month, day of
/// week), read as Knative reads it (robfig/cron's standard parser): `*` and `?`, lists, ranges,
/// steps (`*/15`, `5/15` = from 5 to the end), month and weekday names (`JAN`, `mon-fri`), the
/// `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly` shorthands, and a
/// `CRON_TZ=Zone ` or `TZ=Zone ` prefix. A sixth, leading seconds field is accepted only as `0`:
/// Gatehouse fires once per minute at most. `@every` is refused, as Knative refuses it.
///
/// When both day fields are restricted, a day matches if either does (`0 9 1 * MON`: the 1st and
/// every Monday); when either is `*`, both must — cron's and robfig's rule.
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public init(message: String) { self.message = message }
        public var description: String { message }
    }

    /// As written.
    public let text: String
    /// From a `CRON_TZ=` / `TZ=` prefix; wins over the zone `nextFire` is given.
    public let timeZone: TimeZone?
    // Bit n set: value n matches.
    let minutes: UInt64
    let hours: UInt64
    let daysOfMonth: UInt64
    let months: UInt64
    let daysOfWeek: UInt64
    /// The field began with `*` or `?` (robfig's star bit): decides the day rule, and whether a
    /// wall-clock time repeated by a DST change fires twice (see `nextFire`).
    let dayOfMonthIsStar: Bool
    let dayOfWeekIsStar: Bool
    let hourIsStar: Bool

    public var description: String { text }

    private static let descriptors: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(parsing text: String) throws(ParseError) {
        guard text.utf8.count <= 512 else { throw ParseError(message: "the schedule is longer than 512 characters") }
        self.text = text
        var spec = text.trimmingCharacters(in: .whitespaces)
        var zone: TimeZone?
        if spec.hasPrefix("CRON_TZ=") || spec.hasPrefix("TZ=") {
            guard let space = spec.firstIndex(where: { $0 == " " || $0 == "\t" }), let equals = spec.firstIndex(of: "=") else {
                throw ParseError(message: "a time zone prefix must be followed by the schedule, e.g. \"CRON_TZ=Europe/Paris 0 9 * * *\"")
            }
            let name = String(spec[spec.index(after: equals)..<space])
            guard let named = TimeZone(identifier: name) else {
                throw ParseError(message: "unknown time zone \"\(name)\" (IANA names such as Europe/Paris)")
            }
            zone = named
            spec = spec[space...].trimmingCharacters(in: .whitespaces)
        }
        timeZone = zone
        if spec.hasPrefix("@") {
            if spec.hasPrefix("@every") {
                throw ParseError(message: "@every is not supported (Knative refuses it too); write a cron expression such as \"*/5 * * * *\"")
            }
            guard let expanded = Self.descriptors[spec] else {
                throw ParseError(message: "unknown shorthand \"\(spec)\"; known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly")
            }
            spec = expanded
        }
        var fields = spec.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if fields.count == 6 {
            // robfig's optional seconds field: only "fire at second 0" means something here.
            guard fields[0] == "0" else {
                throw ParseError(message: "a seconds field (\"\(fields[0])\") would fire more than once a minute; PingSources fire at most once a minute, so drop it")
            }
            fields.removeFirst()
        }
        guard fields.count == 5 else {
            throw ParseError(message: "expected 5 fields (minute hour day-of-month month day-of-week), got \(fields.count)")
        }
        (minutes, _) = try Self.field(fields[0], "minute", 0...59)
        (hours, hourIsStar) = try Self.field(fields[1], "hour", 0...23)
        (daysOfMonth, dayOfMonthIsStar) = try Self.field(fields[2], "day of month", 1...31)
        (months, _) = try Self.field(fields[3], "month", 1...12, names: Self.monthNames, firstName: 1)
        (daysOfWeek, dayOfWeekIsStar) = try Self.field(fields[4], "day of week", 0...6, names: Self.dayNames, firstName: 0)
        guard canFire else {
            throw ParseError(message: "the schedule never fires: no month given has the days of month given")
        }
    }

    /// False for `0 0 30 2 *` and the like: restricted days of month that none of the months has
    /// (February counts 29 days), with no weekday to fire on instead.
    private var canFire: Bool {
        if !dayOfMonthIsStar, !dayOfWeekIsStar { return true }
        let longest = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return (1...12).contains { month in
            months & (1 << month) != 0 && (1...longest[month]).contains { daysOfMonth & (1 << $0) != 0 }
        }
    }

    /// One field: comma-separated `*`, `?`, `N`, `A-B`, each with an optional `/STEP`.
    private static func field(
        _ text: String, _ what: String, _ bounds: ClosedRange<Int>, names: [String] = [], firstName: Int = 0
    ) throws(ParseError) -> (UInt64, Bool) {
        var bits: UInt64 = 0
        var star = false
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else {
                throw ParseError(message: "\(what) \"\(part)\" is not a value, range or step")
            }
            var step = 1
            if pieces.count == 2 {
                guard let number = Int(pieces[1]), pieces[1].allSatisfy(\.isASCII), number > 0 else {
                    throw ParseError(message: "\(what) step \"\(pieces[1])\" must be a whole number of 1 or more")
                }
                step = number
            }
            var low: Int, high: Int
            if pieces[0] == "*" || pieces[0] == "?" {
                (low, high) = (bounds.lowerBound, bounds.upperBound)
                star = true
            } else {
                let range = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
                guard range.count <= 2 else { throw ParseError(message: "\(what) \"\(pieces[0])\" is not a range such as 1-5") }
                low = try value(range[0], what, bounds, names: names, firstName: firstName)
                high = range.count == 2 ? try value(range[1], what, bounds, names: names, firstName: firstName)
                    : pieces.count == 2 ? bounds.upperBound : low
                guard low <= high else { throw ParseError(message: "\(what) range \"\(pieces[0])\" starts after it ends") }
            }
            for number in stride(from: low, through: high, by: step) { bits |= 1 << number }
        }
        return (bits, star)
    }

    private static func value(
        _ text: Substring, _ what: String, _ bounds: ClosedRange<Int>, names: [String], firstName: Int
    ) throws(ParseError) -> Int {
        if let index = names.firstIndex(of: text.lowercased()) { return index + firstName }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(text) else {
            let known = names.isEmpty ? "" : " or a name (\(names.first!.uppercased())…)"
            throw ParseError(message: "\(what) \"\(text)\" is not a number\(known)")
        }
        guard bounds.contains(number) else {
            let hint = what == "day of week" && number == 7 ? " (write 0 for Sunday)" : ""
            throw ParseError(message: "\(what) \(number) is out of range \(bounds.lowerBound)-\(bounds.upperBound)\(hint)")
        }
        return number
    }
}
