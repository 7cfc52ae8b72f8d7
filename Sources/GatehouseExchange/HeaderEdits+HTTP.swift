import GatehouseCore
import NIOHTTP1

extension HeaderEdits {
    /// The edits applied to a response's headers: removals, then sets, then additions. Framing and
    /// hop-by-hop headers are Gatehouse's own (a response's `Content-Length` is what it sends): an
    /// edit naming one is skipped, so no config can desynchronize a proxy in front.
    public func apply(to headers: inout HTTPHeaders) {
        guard !isEmpty else { return }
        for name in remove where !Self.isReserved(name) { headers.remove(name: name) }
        for (name, value) in set where !Self.isReserved(name) { headers.replaceOrAdd(name: name, value: value) }
        for (name, value) in add where !Self.isReserved(name) { headers.add(name: name, value: value) }
    }

    static func isReserved(_ name: String) -> Bool {
        reservedNames.contains(name.lowercased())
    }
}
