import Foundation

extension CronSchedule {
    /// How far ahead `nextFire` looks (robfig/cron gives up after five years too).
    static let searchDays = 5 * 366

    /// The first minute strictly after `date` at which the schedule fires, read on the wall clock
    /// of `zone` (the schedule's own `CRON_TZ=` zone wins); nil if none within five years.
    ///
    /// Daylight saving time, as Vixie cron and most users expect:
    /// - A wall-clock time that does not exist (spring forward) fires at the moment the clock
    ///   jumps when the hour is fixed (`30 2 * * *` fires at 03:00 that day); with `*` in the
    ///   hour the missing minutes are simply not there.
    /// - A wall-clock time that happens twice (fall back) fires once, at its first occurrence,
    ///   when the hour is fixed; with `*` in the hour it fires at both (`*/5 * * * *` keeps its
    ///   pace through the repeated hour).
    public func nextFire(after date: Date, in zone: TimeZone) -> Date? {
        let zone = timeZone ?? zone
        let after = Int64(date.timeIntervalSince1970.rounded(.down))
        // Start a day early: a wall-clock day begins up to 14 hours off UTC.
        var day = Self.floorDivide(after + Int64(zone.secondsFromGMT(for: date)), 86_400) - 1
        for _ in 0..<Self.searchDays {
            defer { day += 1 }
            let (_, month, dayOfMonth) = Self.civil(fromDays: day)
            guard months & (1 << month) != 0, dayMatches(day: dayOfMonth, weekday: Self.weekday(ofDays: day)) else { continue }
            var earliest: Int64?
            for hour in 0..<24 where hours & (1 << hour) != 0 {
                for minute in 0..<60 where minutes & (1 << minute) != 0 {
                    let wall = day * 86_400 + Int64(hour * 3600 + minute * 60)
                    // No zone is more than 14 hours off UTC: this minute is long past.
                    guard wall + 14 * 3600 > after else { continue }
                    for instant in instants(ofWallTime: wall, in: zone) where instant > after {
                        earliest = min(earliest ?? instant, instant)
                    }
                }
            }
            if let earliest { return Date(timeIntervalSince1970: TimeInterval(earliest)) }
        }
        return nil
    }

    /// robfig's day rule: both must match when either field is `*`, else either may.
    func dayMatches(day: Int, weekday: Int) -> Bool {
        let byDate = daysOfMonth & (1 << day) != 0
        let byWeekday = daysOfWeek & (1 << weekday) != 0
        return dayOfMonthIsStar || dayOfWeekIsStar ? byDate && byWeekday : byDate || byWeekday
    }

    /// The instants (seconds since 1970) at which `zone`'s clock shows `wall` (seconds since
    /// 1970 as if the clock were UTC), after the DST rules above.
    private func instants(ofWallTime wall: Int64, in zone: TimeZone) -> [Int64] {
        // The offsets in force a day either side: a real zone changes at most once in between.
        let before = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(wall - 86_400)))
        let later = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(wall + 86_400)))
        var found: [Int64] = []
        for offset in Set([before, later]) {
            let instant = wall - Int64(offset)
            if zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))) == offset { found.append(instant) }
        }
        found.sort()
        if found.isEmpty {
            // In a spring-forward gap: a fixed-hour schedule fires when the clock jumps.
            return hourIsStar ? [] : [transition(between: wall - Int64(later), and: wall - Int64(before), to: later, in: zone)]
        }
        return hourIsStar ? found : [found[0]]
    }

    /// The first second in `(low, high]` at which `zone`'s offset is `offset`.
    private func transition(between low: Int64, and high: Int64, to offset: Int, in zone: TimeZone) -> Int64 {
        var (low, high) = (low, high)
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(middle))) == offset {
                high = middle
            } else {
                low = middle
            }
        }
        return high
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    /// 0 = Sunday; 1970-01-01 was a Thursday.
    static func weekday(ofDays days: Int64) -> Int {
        Int(((days + 4) % 7 + 7) % 7)
    }

    /// Year, month (1-12) and day (1-31) of a day number (days since 1970-01-01), in the proleptic
    /// Gregorian calendar (Howard Hinnant's `civil_from_days`).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        let month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
