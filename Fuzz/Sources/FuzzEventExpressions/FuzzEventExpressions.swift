import Foundation
import GatehouseCore

/// libFuzzer entry for the expressions a config author writes for events: the first byte picks
/// the parser, the rest is its input — a CESQL filter (then evaluated against a few events), a
/// PingSource cron schedule (then its next fires computed in two zones, one with DST), or an
/// ISO 8601 delivery duration. A crash or a hang is a finding; so is a broken invariant:
/// - a parse error's column lies within the text (CESQL);
/// - a filter's evaluation never traps, whatever the event's attributes;
/// - a schedule's next fire is after the time asked about, on a whole minute;
/// - a duration that parses is not negative.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEventExpressions(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data + 1, count: size - 1), as: UTF8.self)
    switch data[0] % 3 {
    case 0: cesql(text)
    case 1: cron(text)
    default: duration(text)
    }
    return 0
}

private let events = [
    CloudEvent(id: "1", source: "/s", type: "com.example.order", subject: "x", extensions: ["count": "42", "flag": "true"]),
    CloudEvent(id: "", source: "", type: "", time: "2026-12-07T00:00:00Z", extensions: ["count": "not a number", "big": String(repeating: "a", count: 4096)]),
]

private func cesql(_ text: String) {
    do throws(CESQLParseError) {
        let expression = try CESQLExpression(parsing: text)
        for event in events {
            _ = expression.matches(event)
            _ = try? expression.evaluate(event)
        }
        _ = EventFilter(attributes: ["type": "com.example.order"], filters: [.cesql(text), .not(.cesql(text))]).matches(events[0])
    } catch {
        precondition(error.column >= 1 && error.column <= text.unicodeScalars.count + 1, "a parse error's column outside the text: \(error)")
    }
}

private let zones = [TimeZone(identifier: "UTC")!, TimeZone(identifier: "America/New_York")!]
private let start = Date(timeIntervalSince1970: 1_804_000_000)  // 2027-03-02, before a DST change

private func cron(_ text: String) {
    guard let schedule = try? CronSchedule(parsing: text) else { return }
    for zone in zones {
        var after = start
        for _ in 0..<3 {
            guard let next = schedule.nextFire(after: after, in: zone) else { break }
            precondition(next > after, "a next fire not after the time asked about: \(text)")
            precondition(next.timeIntervalSince1970.truncatingRemainder(dividingBy: 60) == 0, "a fire off the minute: \(text)")
            after = next
        }
    }
}

private func duration(_ text: String) {
    guard let parsed = try? Duration.iso8601(text) else { return }
    precondition(parsed >= .zero, "a negative duration from \(text)")
}
