/// What a node learns from the other nodes' running counts (`SharedRateCount`s read from the
/// store): the tokens each policy's key lost since it last read them. A plain value, tested alone.
///
/// A row remembered from an earlier read gives its growth since then (a row read twice, as
/// overlapping reads do, gives nothing the second time); a row not remembered (new, or forgotten
/// after `memory`) gives only its latest addition, so a count that has run for hours is not
/// charged again. A row whose count went down was made again (pruned, then taken from anew): its
/// latest addition too. Values from the database are not trusted to be sane: nothing here traps.
public struct SharedTakeLedger: Sendable {
    public struct Row: Hashable, Sendable {
        public var node: String
        public var policy: String
        public var key: String
        public init(node: String, policy: String, key: String) {
            self.node = node
            self.policy = policy
            self.key = key
        }
    }

    public struct Taken: Hashable, Sendable {
        public var policy: String
        public var key: String
        public init(policy: String, key: String) {
            self.policy = policy
            self.key = key
        }
    }

    /// How long a row's count is remembered after it was last read: longer than reads overlap.
    public static let memory: Duration = .seconds(30)
    /// Rows remembered at most; past it the ones read longest ago are forgotten first.
    public static let maxRemembered = 200_000

    private var seen: [Row: (total: Int64, at: ContinuousClock.Instant)] = [:]
    private var lastSweep: ContinuousClock.Instant?

    public init() {}

    public var remembered: Int { seen.count }

    /// The tokens taken by other nodes since they were last read, per policy and key.
    public mutating func news(_ counts: [(row: Row, total: Int64, last: Int64)], now: ContinuousClock.Instant = .now) -> [Taken: Int] {
        var news: [Taken: Int] = [:]
        for (row, total, last) in counts {
            var added = max(0, last)
            if let before = seen[row]?.total, total >= before {
                added = total.subtractingReportingOverflow(before).overflow ? 0 : total - before
            }
            if added > 0 {
                let key = Taken(policy: row.policy, key: row.key)
                let (sum, overflow) = news[key, default: 0].addingReportingOverflow(Int(clamping: added))
                news[key] = overflow ? Int.max : sum
            }
            seen[row] = (total, now)
        }
        forget(before: now - Self.memory)
        return news
    }

    /// Looks for rows to forget every few seconds (or at once past the bound), not at every read.
    private mutating func forget(before cutoff: ContinuousClock.Instant) {
        let now = cutoff + Self.memory
        guard seen.count > Self.maxRemembered || lastSweep.map({ now - $0 >= .seconds(5) }) ?? true else { return }
        lastSweep = now
        seen = seen.filter { $0.value.at >= cutoff }
        if seen.count > Self.maxRemembered {
            let newest = seen.sorted { $0.value.at > $1.value.at }.prefix(Self.maxRemembered)
            seen = Dictionary(uniqueKeysWithValues: newest.map { ($0.key, $0.value) })
        }
    }
}
