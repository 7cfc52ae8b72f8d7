/// The rules of one function that are still worth checking against one request, one bit per rule
/// in the order `decide` checks them. Lives on the stack for the length of one decision.
struct CandidateBits {
    /// nil: every rule is a candidate (the plain scan).
    private let words: UnsafeMutableBufferPointer<UInt64>?

    /// Every rule a candidate: what `decide` did before the index, kept as the reference the
    /// index is tested against.
    static var everyRule: CandidateBits { CandidateBits(words: nil) }

    /// Runs `body` with a set that starts as `initial` (one word per 64 rules), on the stack;
    /// `request` is passed through to it.
    static func with<Result>(
        copying initial: [UInt64], _ request: AuthorizationRequest, _ body: (AuthorizationRequest, inout CandidateBits) -> Result
    ) -> Result {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: initial.count) { buffer in
            _ = buffer.initialize(from: initial)
            var bits = CandidateBits(words: buffer)
            return body(request, &bits)
        }
    }

    private init(words: UnsafeMutableBufferPointer<UInt64>?) {
        self.words = words
    }

    mutating func insert(_ rule: Int) {
        guard let words else { return }
        words[rule >> 6] |= 1 << UInt64(rule & 63)
    }

    /// The first candidate in `from..<below`, if any.
    func next(from: Int, below: Int) -> Int? {
        guard from < below else { return nil }
        guard let words else { return from }
        var word = from >> 6
        var bits = words[word] & (~0 << UInt64(from & 63))
        while true {
            if bits != 0 {
                let rule = (word << 6) + bits.trailingZeroBitCount
                return rule < below ? rule : nil
            }
            word += 1
            guard word << 6 < below else { return nil }
            bits = words[word]
        }
    }
}
