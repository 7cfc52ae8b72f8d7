/// What a node learns from the other nodes' running counts (`SharedRateCount`s read from the
/// store): the tokens each policy's key lost since the last read. A plain value, tested alone.
///
/// A row seen before gives its growth since then; a row not seen before (new, or unchanged long
/// enough to fall out of the read window) gives only its latest addition, so a count that has run
/// for hours is not charged again. A row whose count went down was made again (pruned, then taken
/// from anew): its latest addition too.
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

    /// The counts of the last read: bounded by what one read returns.
    private var seen: [Row: Int64] = [:]

    public init() {}

    /// The tokens taken by other nodes since the previous read, per policy and key.
    public mutating func news(_ counts: [(row: Row, total: Int64, last: Int64)]) -> [Taken: Int] {
        var news: [Taken: Int] = [:]
        var now: [Row: Int64] = [:]
        now.reserveCapacity(counts.count)
        for (row, total, last) in counts {
            let before = seen[row]
            let added = before.map { total >= $0 ? total - $0 : last } ?? last
            if added > 0 { news[Taken(policy: row.policy, key: row.key), default: 0] += Int(clamping: added) }
            now[row] = total
        }
        seen = now
        return news
    }
}
