import GatehouseCore

/// A pre-filter over one function's rules: from a request's method, host and path it picks the
/// rules that might match, so that `decide` checks those rather than every rule of every policy.
///
/// Conservative by construction. A rule is left out only when each of its `to` operations has a
/// field (`paths`, else `hosts`, else `methods`) whose every value is an exact or prefix pattern
/// the request's value does not meet: the operation then cannot match, whatever its other fields
/// say. Everything else is always checked — a rule without `to`, an operation whose fields are all
/// absent, `not`-only, presence (`*`), suffix (`*abc`) or path templates (`{*}`, `{**}`), and every
/// host-indexed rule when the request's host is not ASCII (Unicode lower-casing could map it onto
/// an ASCII pattern).
///
/// A class: a decision reaches it through the shared `Applicable`, and copying a struct of a dozen
/// arrays out of that cost a retain and a release each, about a quarter of an allow.
final class RuleIndex: Sendable {
    let ruleCount: Int
    /// One bit per rule that no key can rule out.
    private let alwaysChecked: [UInt64]
    private let paths: ByteTrie
    private let hosts: ByteTrie
    private let methods: ByteTrie

    /// `rules` in the order `decide` checks them; a rule's number is its position here.
    /// `indexed: false`: every rule always checked (no tries; a scan's cost and answers).
    init(rules: [AuthorizationPolicySpec.Rule], indexed: Bool = true) {
        ruleCount = rules.count
        var always = [UInt64](repeating: 0, count: (rules.count + 63) / 64)
        var paths = ByteTrie(), hosts = ByteTrie(), methods = ByteTrie()
        for (number, rule) in rules.enumerated() {
            guard indexed, !rule.to.isEmpty, rule.to.allSatisfy({ IndexedField(for: $0) != nil }) else {
                always[number >> 6] |= 1 << UInt64(number & 63)
                continue
            }
            // The rule must be reachable through every operation's keys: any one may be the one that matches.
            for operation in rule.to {
                switch IndexedField(for: operation) {
                case .path: for path in operation.paths.values { IndexedField.insert(path, into: &paths, rule: number) }
                case .host: for host in operation.hosts.values { IndexedField.insert(host.lowercased(), into: &hosts, rule: number) }
                case .method: for method in operation.methods.values { IndexedField.insert(method, into: &methods, rule: number) }
                case nil: preconditionFailure("checked above")
                }
            }
        }
        alwaysChecked = always
        self.paths = paths
        self.hosts = hosts
        self.methods = methods
    }

    /// Runs `body` with the rules worth checking for `request`. The request goes through as an
    /// argument rather than captured: a capture copied it, a retain and release per field.
    func withCandidates<Result>(
        for request: AuthorizationRequest, _ body: (AuthorizationRequest, inout CandidateBits) -> Result
    ) -> Result {
        CandidateBits.with(copying: alwaysChecked, request) { request, candidates in
            paths.mark(request.path.utf8, in: &candidates)
            methods.mark(request.method.utf8, in: &candidates)
            markHosts(request.host, in: &candidates)
            return body(request, &candidates)
        }
    }

    /// Hosts compare case-insensitively and, for a pattern without a port, with the request's port
    /// dropped: walk the lower-cased host once, also taking exact keys that end at its last colon.
    private func markHosts(_ host: String, in candidates: inout CandidateBits) {
        guard !hosts.isEmpty else { return }
        let bytes = host.utf8
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return hosts.markAll(in: &candidates) }
        let colon = bytes.lastIndex(of: UInt8(ascii: ":")).map { bytes.distance(from: bytes.startIndex, to: $0) }
        hosts.mark(bytes.lazy.map(Self.lowercased), exactAlsoAt: colon, in: &candidates)
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}

/// The field an operation is indexed by: one whose every value is a key (exact or prefix), so that
/// a request value reaching none of them rules the operation out.
enum IndexedField {
    case path, host, method

    /// nil when no field can rule the operation out. Paths first: they tell rules apart best.
    init?(for operation: AuthorizationPolicySpec.Operation) {
        if Self.allKeys(operation.paths.values, where: { !$0.utf8.contains(UInt8(ascii: "{")) }) {
            self = .path
        } else if Self.allKeys(operation.hosts.values, where: { $0.utf8.allSatisfy { $0 < 0x80 } }) {
            self = .host
        } else if Self.allKeys(operation.methods.values, where: { _ in true }) {
            self = .method
        } else {
            return nil
        }
    }

    /// A field matches if any value does, so one value that is not a key makes it useless as a
    /// filter. Path templates (`{*}`, `{**}`) match segment by segment, not as strings; hosts
    /// compare lower-cased, and only ASCII lower-cases byte by byte.
    private static func allKeys(_ values: [String], where usable: (String) -> Bool) -> Bool {
        !values.isEmpty && values.allSatisfy { usable($0) && isPrefix($0) != nil }
    }

    /// How `IstioStringMatch` reads `pattern`, when that is a key: false for exact, true for a
    /// prefix (a trailing `*`); nil for presence (`*`) and suffix patterns (a leading `*`, which
    /// wins over a trailing one there too: `*abc*` is a suffix), which are not keys.
    static func isPrefix(_ pattern: String) -> Bool? {
        let bytes = pattern.utf8, star = UInt8(ascii: "*")
        if bytes.first == star { return nil }
        if bytes.last == star { return true }
        return false
    }

    static func insert(_ pattern: String, into trie: inout ByteTrie, rule: Int) {
        switch isPrefix(pattern) {
        case true?: trie.insert(pattern.utf8.dropLast(), isPrefix: true, rule: rule)
        case false?: trie.insert(pattern.utf8, isPrefix: false, rule: rule)
        case nil: preconditionFailure("not a key: \(pattern)")
        }
    }
}
