import GatehouseCore
import Testing

/// Durations as Istio and Kubernetes write them: Go's `time.ParseDuration` syntax.
@Suite("Duration parsing and printing")
struct DurationParsingTests {
    @Test("Go duration syntax is accepted", arguments: [
        ("300s", Duration.seconds(300)),
        ("500ms", .milliseconds(500)),
        ("1m30s", .seconds(90)),
        ("1.5h", .seconds(5400)),
        ("2us", .microseconds(2)),
        ("2µs", .microseconds(2)),  // U+00B5 MICRO SIGN
        ("7ns", .nanoseconds(7)),
        ("1h2m3s4ms", .seconds(3723) + .milliseconds(4)),
        ("0s", .zero),
        ("0.5s", .milliseconds(500)),
    ])
    func accepted(text: String, expected: Duration) {
        #expect(Duration(parsing: text) == expected)
    }

    @Test("Anything else is rejected", arguments: [
        "", "10", "s", "-1s", "+1s", "1d", "abc", "1s2", "1..5s", "1 s", " 1s", "1S", "1sec",
    ])
    func rejected(text: String) {
        #expect(Duration(parsing: text) == nil)
    }

    @Test("Values too large for Int64 nanoseconds are rejected")
    func overflow() {
        #expect(Duration(parsing: "3000000h") == nil)
        #expect(Duration(parsing: "2000000h") != nil)
    }

    @Test("Decimal fractions are exact to the nanosecond", arguments: [
        ("4.1s", Duration.milliseconds(4100)),
        ("2.01s", .milliseconds(2010)),
        ("1.005s", .milliseconds(1005)),
    ])
    func decimalFractionsAreExact(text: String, expected: Duration) {
        #expect(Duration(parsing: text) == expected)
    }

    /// Known gap: Go accepts both U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU.
    @Test("Microseconds may be written with the Greek mu as well, as Go accepts")
    func greekMu() {
        #expect(Duration(parsing: "3\u{03BC}s") == .microseconds(3))
    }

    @Test("gatehouseDescription prints whole seconds as s and whole milliseconds as ms")
    func description() {
        #expect(Duration.seconds(300).gatehouseDescription == "300s")
        #expect(Duration.zero.gatehouseDescription == "0s")
        #expect(Duration.milliseconds(250).gatehouseDescription == "250ms")
        #expect(Duration.milliseconds(1500).gatehouseDescription == "1500ms")
    }

    @Test("gatehouseDescription reads back as the same duration", arguments: [
        Duration.seconds(300), .milliseconds(250), .milliseconds(1500), .seconds(5400), .milliseconds(1),
    ])
    func descriptionRoundTrips(duration: Duration) {
        #expect(Duration(parsing: duration.gatehouseDescription) == duration)
    }

    @Test("Sub-millisecond durations print in a form that reads back", arguments: [
        Duration.microseconds(2), .nanoseconds(1500),
    ])
    func subMillisecondDescriptionRoundTrips(duration: Duration) {
        #expect(Duration(parsing: duration.gatehouseDescription) == duration)
    }

    @Test("milliseconds is whole milliseconds, rounded down")
    func milliseconds() {
        #expect(Duration.seconds(2).milliseconds == 2000)
        #expect(Duration.milliseconds(1500).milliseconds == 1500)
        #expect(Duration.microseconds(1999).milliseconds == 1)
        #expect(Duration.nanoseconds(999_999).milliseconds == 0)
        #expect(Duration.zero.milliseconds == 0)
    }

    @Test("nanosecondsClamped is exact in range and clamps past Int64")
    func nanosecondsClamped() {
        #expect(Duration.seconds(1).nanosecondsClamped == 1_000_000_000)
        #expect(Duration.nanoseconds(5).nanosecondsClamped == 5)
        #expect(Duration.milliseconds(-1500).nanosecondsClamped == -1_500_000_000)
        #expect(Duration.seconds(Int64.max).nanosecondsClamped == .max)
        #expect(Duration.seconds(Int64.min).nanosecondsClamped == .min)
    }

    @Test("nanosecondsClamped clamps when only the sub-second part overflows")
    func nanosecondsClampedNearTheLimit() {
        let justPast = Duration.seconds(9_223_372_036) + .milliseconds(900)  // 9_223_372_036.9 s > Int64.max ns
        #expect(justPast.nanosecondsClamped == .max)
        #expect((Duration.seconds(9_223_372_036) + .milliseconds(800)).nanosecondsClamped == 9_223_372_036_800_000_000)
    }
}

@Suite("What makes two function specs run alike")
struct RunsLikeTests {
    @Test("The file's name does not matter; its directory does (relative commands resolve from it)")
    func directory() {
        var a = FunctionSpec(name: "fn", process: .init(command: ["./server"]), source: .init(file: "/srv/v1/a.yaml", line: 1))
        var b = a
        b.source = .init(file: "/srv/v1/b.yaml", line: 9)
        b.generation = 4
        #expect(a.runsLike(b))
        b.source = .init(file: "/srv/v2/a.yaml", line: 1)
        #expect(!a.runsLike(b))
        a.process.env = [.init(name: "X", value: "1")]
        b.source = a.source
        #expect(!a.runsLike(b))
    }
}
