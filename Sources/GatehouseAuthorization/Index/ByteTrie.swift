/// Exact and prefix keys over UTF-8 bytes, each naming a rule: one walk along a value finds every
/// rule whose key equals it or (for a prefix key) starts it, without hashing or allocating.
///
/// Bytes, not `String`s, because `IstioStringMatch` compares bytes. Nodes and the rules they name
/// live in a few flat arrays (first child / next sibling, and linked lists of rules) rather than an
/// array per node, so building the index for thousands of rules costs a handful of allocations.
struct ByteTrie: Sendable {
    private static let none: Int32 = -1

    // Per node; node 0 is the root (the empty key).
    private var byte: [UInt8] = [0]
    private var firstChild: [Int32] = [none]
    private var nextSibling: [Int32] = [none]
    /// Heads of the node's lists in `rule`/`nextRule`: rules whose key ends here exactly, and rules
    /// whose key is a prefix ending here.
    private var exactRules: [Int32] = [none]
    private var prefixRules: [Int32] = [none]
    // Per entry of a list.
    private var rule: [Int32] = []
    private var nextRule: [Int32] = []

    var isEmpty: Bool { rule.isEmpty }

    mutating func insert(_ key: some Sequence<UInt8>, isPrefix: Bool, rule number: Int) {
        var node = 0
        for byte in key { node = childAdding(byte, to: node) }
        rule.append(Int32(number))
        if isPrefix {
            nextRule.append(prefixRules[node])
            prefixRules[node] = Int32(rule.count - 1)
        } else {
            nextRule.append(exactRules[node])
            exactRules[node] = Int32(rule.count - 1)
        }
    }

    /// Marks the rules whose exact key is `value` or whose prefix key starts it; with `exactAlsoAt`,
    /// also those whose exact key is `value`'s first `exactAlsoAt` bytes (a host without its port).
    func mark(_ value: some Sequence<UInt8>, exactAlsoAt: Int? = nil, in candidates: inout CandidateBits) {
        var node = 0
        var depth = 0
        for byte in value {
            mark(list: prefixRules[node], in: &candidates)
            if depth == exactAlsoAt { mark(list: exactRules[node], in: &candidates) }
            guard let next = child(byte, of: node) else { return }
            node = next
            depth += 1
        }
        mark(list: prefixRules[node], in: &candidates)
        mark(list: exactRules[node], in: &candidates)
    }

    /// Every rule any key names.
    func markAll(in candidates: inout CandidateBits) {
        for number in rule { candidates.insert(Int(number)) }
    }

    private func mark(list head: Int32, in candidates: inout CandidateBits) {
        var entry = head
        while entry != Self.none {
            candidates.insert(Int(rule[Int(entry)]))
            entry = nextRule[Int(entry)]
        }
    }

    private func child(_ byte: UInt8, of node: Int) -> Int? {
        var child = firstChild[node]
        while child != Self.none {
            if self.byte[Int(child)] == byte { return Int(child) }
            child = nextSibling[Int(child)]
        }
        return nil
    }

    private mutating func childAdding(_ byte: UInt8, to node: Int) -> Int {
        if let child = child(byte, of: node) { return child }
        let child = Int32(self.byte.count)
        self.byte.append(byte)
        firstChild.append(Self.none)
        nextSibling.append(firstChild[node])
        exactRules.append(Self.none)
        prefixRules.append(Self.none)
        firstChild[node] = child
        return Int(child)
    }
}
