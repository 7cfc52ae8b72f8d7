import GatehouseCore
import Testing

/// Durations as Knative's `delivery` writes them: ISO 8601.
@Suite("ISO 8601 durations")
struct ISO8601DurationTests {
    @Test("Knative's forms are read exactly", arguments: [
        ("PT0.2S", Duration.milliseconds(200)),
        ("PT1S", .seconds(1)),
        ("PT30S", .seconds(30)),
        ("PT1M30S", .seconds(90)),
        ("PT1H", .seconds(3600)),
        ("P1D", .seconds(86_400)),
        ("P1W", .seconds(604_800)),
        ("P1DT12H", .seconds(129_600)),
        ("PT0S", .zero),
        ("P0D", .zero),
        ("PT2.5S", .milliseconds(2500)),
        ("PT0,5S", .milliseconds(500)),
        ("PT1.5M", .seconds(90)),
        ("PT0.000000001S", .nanoseconds(1)),
        ("PT0.0000000019S", .nanoseconds(1)),
        ("+PT1S", .seconds(1)),
    ])
    func accepted(text: String, expected: Duration) throws {
        #expect(try Duration.iso8601(text) == expected)
    }

    @Test("Garbage is refused as malformed", arguments: [
        "", "P", "PT", "T1S", "1S", "pt1s", "PT1", "PTS", "PT1S1", "PT1M1H", "PT1S1S", "P1DT", "PT.5S", "PT1.S",
        "PT1.5M30S", "P1H", "PT1D", "30s", "FOO", "PP1", "P1DT1H1M1S1",
    ])
    func malformed(text: String) {
        #expect(throws: Duration.ISO8601Problem.malformed) { try Duration.iso8601(text) }
    }

    @Test("Negative, calendar and overlong durations are refused with their reason")
    func reasons() {
        #expect(throws: Duration.ISO8601Problem.negative) { try Duration.iso8601("-PT1S") }
        #expect(throws: Duration.ISO8601Problem.calendarUnit) { try Duration.iso8601("P1Y") }
        #expect(throws: Duration.ISO8601Problem.calendarUnit) { try Duration.iso8601("P1M") }
        #expect(throws: Duration.ISO8601Problem.tooLarge) { try Duration.iso8601("PT99999999999999999999S") }
        #expect(throws: Duration.ISO8601Problem.tooLarge) { try Duration.iso8601("P999999999W") }
        #expect(throws: Duration.ISO8601Problem.tooLarge) { try Duration.iso8601("PT" + String(repeating: "1", count: 100) + "S") }
    }

    @Test("Printing reads back", arguments: [
        (Duration.milliseconds(200), "PT0.2S"), (.seconds(90), "PT1M30S"), (.seconds(86_400), "P1D"), (.zero, "PT0S"),
        (.seconds(129_601), "P1DT12H1S"), (.nanoseconds(1), "PT0.000000001S"),
    ])
    func printing(duration: Duration, text: String) throws {
        #expect(duration.iso8601Description == text)
        #expect(try Duration.iso8601(text) == duration)
    }
}
