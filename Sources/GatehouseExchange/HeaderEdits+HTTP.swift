import GatehouseCore
import NIOHTTP1

extension HeaderEdits {
    /// The edits applied to HTTP headers: removals, then sets, then additions.
    public func apply(to headers: inout HTTPHeaders) {
        guard !isEmpty else { return }
        for name in remove { headers.remove(name: name) }
        for (name, value) in set { headers.replaceOrAdd(name: name, value: value) }
        for (name, value) in add { headers.add(name: name, value: value) }
    }
}
