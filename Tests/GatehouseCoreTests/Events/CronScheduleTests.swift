import Foundation
import GatehouseCore
import Testing

/// PingSource schedules: robfig/cron's syntax (what Knative parses), fired on a zone's wall clock.
@Suite("Cron schedules")
struct CronScheduleTests {
    static let utc = TimeZone(identifier: "UTC")!
    static let newYork = TimeZone(identifier: "America/New_York")!

    /// `2026-03-08T07:00:00Z` → Date.
    static func at(_ text: String) -> Date {
        try! Date(text, strategy: .iso8601)
    }

    /// The next `count` fire times after `start`, as ISO 8601 UTC strings.
    static func fires(_ schedule: String, after start: String, in zone: TimeZone = utc, count: Int = 1) throws -> [String] {
        let cron = try CronSchedule(parsing: schedule)
        var times: [String] = []
        var now = at(start)
        for _ in 0..<count {
            guard let next = cron.nextFire(after: now, in: zone) else { break }
            times.append(next.formatted(.iso8601))
            now = next
        }
        return times
    }

    @Test("Fields, lists, ranges, steps and names", arguments: [
        ("* * * * *", "2026-03-02T10:00:30Z", ["2026-03-02T10:01:00Z", "2026-03-02T10:02:00Z"]),
        ("*/15 * * * *", "2026-03-02T10:07:00Z", ["2026-03-02T10:15:00Z", "2026-03-02T10:30:00Z"]),
        ("5/20 * * * *", "2026-03-02T10:00:00Z", ["2026-03-02T10:05:00Z", "2026-03-02T10:25:00Z"]),
        ("0 9-17/4 * * *", "2026-03-02T10:00:00Z", ["2026-03-02T13:00:00Z", "2026-03-02T17:00:00Z"]),
        ("0,30 12 * * *", "2026-03-02T12:10:00Z", ["2026-03-02T12:30:00Z", "2026-03-03T12:00:00Z"]),
        ("0 9 * * MON-FRI", "2026-03-06T10:00:00Z", ["2026-03-09T09:00:00Z", "2026-03-10T09:00:00Z"]),
        ("0 9 * * sat,Sun", "2026-03-02T00:00:00Z", ["2026-03-07T09:00:00Z", "2026-03-08T09:00:00Z"]),
        ("0 0 1 jan-mar *", "2026-02-15T00:00:00Z", ["2026-03-01T00:00:00Z", "2027-01-01T00:00:00Z"]),
        ("0 0 29 2 *", "2026-03-01T00:00:00Z", ["2028-02-29T00:00:00Z"]),
        ("@hourly", "2026-03-02T10:00:00Z", ["2026-03-02T11:00:00Z"]),
        ("@daily", "2026-03-02T10:00:00Z", ["2026-03-03T00:00:00Z"]),
        ("@weekly", "2026-03-02T10:00:00Z", ["2026-03-08T00:00:00Z"]),
        ("@monthly", "2026-03-02T10:00:00Z", ["2026-04-01T00:00:00Z"]),
        ("@yearly", "2026-03-02T10:00:00Z", ["2027-01-01T00:00:00Z"]),
        ("0 */5 * * * *", "2026-03-02T10:00:00Z", ["2026-03-02T10:05:00Z"]),
        ("  */30  *  *  *  *  ", "2026-03-02T10:00:00Z", ["2026-03-02T10:30:00Z"]),
    ])
    func schedules(schedule: String, start: String, expected: [String]) throws {
        #expect(try Self.fires(schedule, after: start, count: expected.count) == expected)
    }

    @Test("Day of month and day of week: either, when both are restricted; both, when either is *")
    func dayRule() throws {
        // The 13th or any Friday (March 2026: Fridays are the 6th, 13th, 20th).
        #expect(try Self.fires("0 12 13 * FRI", after: "2026-03-01T00:00:00Z", count: 3)
            == ["2026-03-06T12:00:00Z", "2026-03-13T12:00:00Z", "2026-03-20T12:00:00Z"])
        #expect(try Self.fires("0 12 12 * FRI", after: "2026-03-07T00:00:00Z", count: 2) == ["2026-03-12T12:00:00Z", "2026-03-13T12:00:00Z"])
        // `*/2` starts with `*`: robfig then wants both (odd days that are Mondays: the 9th, the 23rd).
        #expect(try Self.fires("0 0 */2 * MON", after: "2026-03-01T00:00:00Z", count: 2) == ["2026-03-09T00:00:00Z", "2026-03-23T00:00:00Z"])
        #expect(try Self.fires("0 0 * * 0", after: "2026-03-02T00:00:00Z") == ["2026-03-08T00:00:00Z"])
    }

    @Test("Wall-clock time of the zone, or of the schedule's CRON_TZ= prefix")
    func zones() throws {
        #expect(try Self.fires("0 9 * * *", after: "2026-06-01T00:00:00Z", in: Self.newYork) == ["2026-06-01T13:00:00Z"])
        #expect(try Self.fires("0 9 * * *", after: "2026-01-05T00:00:00Z", in: Self.newYork) == ["2026-01-05T14:00:00Z"])
        #expect(try Self.fires("CRON_TZ=Asia/Tokyo 0 9 * * *", after: "2026-06-01T00:00:00Z", in: Self.newYork) == ["2026-06-02T00:00:00Z"])
        #expect(try Self.fires("TZ=Asia/Kolkata 30 9 * * *", after: "2026-06-01T00:00:00Z") == ["2026-06-01T04:00:00Z"])
        #expect(try CronSchedule(parsing: "CRON_TZ=Europe/Paris * * * * *").timeZone == TimeZone(identifier: "Europe/Paris"))
    }

    @Test("Spring forward in New York: a fixed time in the missing hour fires when the clock jumps; * in the hour skips it")
    func springForward() throws {
        // 2026-03-08 02:00 EST becomes 03:00 EDT (07:00Z).
        #expect(try Self.fires("30 2 * * *", after: "2026-03-07T12:00:00Z", in: Self.newYork, count: 2)
            == ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"])
        #expect(try Self.fires("*/30 * * * *", after: "2026-03-08T06:30:00Z", in: Self.newYork, count: 2)
            == ["2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"])
        // Two missing minutes of a fixed-hour schedule fire once, at the jump.
        #expect(try Self.fires("0,30 2 * * *", after: "2026-03-08T06:00:00Z", in: Self.newYork, count: 2)
            == ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"])
    }

    @Test("Fall back in New York: a fixed time in the repeated hour fires once; * in the hour fires in both")
    func fallBack() throws {
        // 2026-11-01 02:00 EDT becomes 01:00 EST (06:00Z): 01:00-01:59 happens twice.
        #expect(try Self.fires("30 1 * * *", after: "2026-10-31T12:00:00Z", in: Self.newYork, count: 2)
            == ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"])
        #expect(try Self.fires("*/30 * * * *", after: "2026-11-01T05:00:00Z", in: Self.newYork, count: 4)
            == ["2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z"])
        #expect(try Self.fires("@hourly", after: "2026-11-01T04:30:00Z", in: Self.newYork, count: 3)
            == ["2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"])
    }

    @Test("Mistakes are refused with a reason", arguments: [
        ("*/0 * * * *", "minute step \"0\" must be a whole number of 1 or more"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("* 24 * * *", "hour 24 is out of range 0-23"),
        ("* * 0 * *", "day of month 0 is out of range 1-31"),
        ("* * 32 * *", "day of month 32 is out of range 1-31"),
        ("* * * 13 *", "month 13 is out of range 1-12"),
        ("* * * * 7", "day of week 7 is out of range 0-6 (write 0 for Sunday)"),
        ("* * * FOO *", "month \"FOO\" is not a number or a name (JAN…)"),
        ("5-1 * * * *", "minute range \"5-1\" starts after it ends"),
        ("1-2-3 * * * *", "minute \"1-2-3\" is not a range such as 1-5"),
        ("*/5/2 * * * *", "minute \"*/5/2\" is not a value, range or step"),
        (",5 * * * *", "minute \"\" is not a value, range or step"),
        ("-5 * * * *", "minute \"\" is not a number"),
        ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("* * * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 7"),
        ("", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"),
        ("*/5 * * * * *", "a seconds field (\"*/5\") would fire more than once a minute; PingSources fire at most once a minute, so drop it"),
        ("@every 5m", "@every is not supported (Knative refuses it too); write a cron expression such as \"*/5 * * * *\""),
        ("@reboot", "unknown shorthand \"@reboot\"; known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"),
        ("CRON_TZ=Nowhere/City * * * * *", "unknown time zone \"Nowhere/City\" (IANA names such as Europe/Paris)"),
        ("CRON_TZ=UTC", "a time zone prefix must be followed by the schedule, e.g. \"CRON_TZ=Europe/Paris 0 9 * * *\""),
        ("0 0 30 2 *", "the schedule never fires: no month given has the days of month given"),
        ("0 0 31 4,6,9,11 *", "the schedule never fires: no month given has the days of month given"),
        ("* * * * */99999999999999999999", "day of week step \"99999999999999999999\" must be a whole number of 1 or more"),
    ])
    func mistakes(schedule: String, message: String) {
        #expect(throws: CronSchedule.ParseError(message: message)) { try CronSchedule(parsing: schedule) }
    }

    @Test("Hostile input is bounded")
    func hostile() {
        #expect(throws: CronSchedule.ParseError.self) { try CronSchedule(parsing: String(repeating: "1,", count: 1000) + "1 * * * *") }
        // A restricted day of month with a restricted weekday fires (on the weekday) even in February.
        #expect((try? CronSchedule(parsing: "0 0 30 2 MON")) != nil)
    }

    @Test("A PingSource reads its schedule in its timezone, UTC by default")
    func pingSource() {
        let sink = PingSourceSpec.Sink.broker(namespace: "shop", name: "default")
        let paris = PingSourceSpec(namespace: "shop", name: "p", schedule: "0 9 * * *", timezone: "Europe/Paris", sink: sink)
        #expect(paris.nextFire(after: Self.at("2026-06-01T00:00:00Z")) == Self.at("2026-06-01T07:00:00Z"))
        let plain = PingSourceSpec(namespace: "shop", name: "p", schedule: "0 9 * * *", sink: sink)
        #expect(plain.nextFire(after: Self.at("2026-06-01T00:00:00Z")) == Self.at("2026-06-01T09:00:00Z"))
        #expect(plain.eventSource == "/apis/v1/namespaces/shop/pingsources/p")
    }
}
