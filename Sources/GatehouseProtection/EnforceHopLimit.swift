import GatehouseCore

/// ⑤ A loop of functions calling each other ends with a clear error instead of a storm: every
/// request Gatehouse forwards carries `x-gatehouse-hops` (one more than it arrived with), and one
/// that arrives having made `maxHops` hops is refused with 508 Loop Detected. Functions pass the
/// header on when they call others, as they pass on trace headers.
public struct EnforceHopLimit: RequestStage {
    public static let header = "x-gatehouse-hops"
    public let maxHops: Int
    public var name: StageName { .hopLimit }

    public init(maxHops: Int) {
        self.maxHops = maxHops
    }

    public func explain(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageExplanation {
        let verdict = process(&record, headers: headers)
        guard let hops = Int(record.upstreamHeaders.set.first { $0.name == Self.header }?.value ?? "").map({ $0 - 1 }) else {
            return StageExplanation(verdict, details: ["maxHops": .int(maxHops)])
        }
        return StageExplanation(verdict, note: "\(hops) hop(s) so far, under the limit of \(maxHops)", details: ["hops": .int(hops), "maxHops": .int(maxHops)])
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        // A list (the header repeated or joined) counts by its largest entry, and never below 0: a
        // caller cannot reset it.
        let hops = headers.joined(Self.header).map { text in
            max(0, text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.max() ?? 0)
        } ?? 0
        guard hops < maxHops else {
            return .reject(GatehouseError(.hopLimitExceeded, detail: "\(hops) hops reached the limit of \(maxHops); a loop of calls?"))
        }
        record.upstreamHeaders.setHeader(Self.header, String(hops + 1))
        return .proceed
    }
}
