/// What one decision-log row may hold. A denied request's path is the caller's to choose (up to the
/// listener's head limit, ~60 KiB): kept whole, a flood of them would fill the disk and the log's
/// buffer. The start of each field is what `explain` needs; the marker says something was cut.
extension DecisionEntry {
    /// The most UTF-8 bytes a text field keeps, marker included.
    public static let maxFieldBytes = 1024
    /// The most names kept in `audited` and `dryRun` each.
    public static let maxListedPolicies = 32

    /// This entry with every field within `maxFieldBytes` (and the lists within `maxListedPolicies`).
    public func bounded() -> DecisionEntry {
        var entry = self
        entry.requestId = Self.truncated(requestId)
        entry.function = Self.truncated(function)
        entry.method = Self.truncated(method)
        entry.host = Self.truncated(host)
        entry.path = Self.truncated(path)
        entry.sourceAddress = sourceAddress.map { Self.truncated($0) }
        entry.policy = policy.map { Self.truncated($0) }
        entry.reason = Self.truncated(reason)
        entry.audited = Self.bounded(audited)
        entry.dryRun = Self.bounded(dryRun)
        return entry
    }

    /// `text` itself when short enough; otherwise its first bytes (on a character boundary) and
    /// `…[truncated N bytes]`, `maxFieldBytes` in all.
    public static func truncated(_ text: String, limit: Int = maxFieldBytes) -> String {
        let total = text.utf8.count
        guard total > limit else { return text }
        // The marker's digits never exceed the total's, so the result stays within `limit`.
        let room = max(0, limit - "…[truncated \(total) bytes]".utf8.count)
        // Whole characters only: never half a multi-byte one.
        var head = "", used = 0
        for character in text {
            used += character.utf8.count
            if used > room { break }
            head.append(character)
        }
        return head + "…[truncated \(total - head.utf8.count) bytes]"
    }

    private static func bounded(_ names: [String]) -> [String] {
        let kept = names.prefix(maxListedPolicies).map { truncated($0) }
        return names.count > maxListedPolicies ? kept + ["…[\(names.count - maxListedPolicies) more]"] : kept
    }
}
