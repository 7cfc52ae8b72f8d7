import Foundation

/// A function call made with `Prefer: respond-async`: the request as it passed the stages, stored
/// until it runs, then its result until it expires.
public struct AsyncCall: Sendable, Hashable {
    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Unguessable (128 random bits): whoever has it may read the result.
    public var id: String
    public var method: String
    /// The function host the call was for.
    public var host: String
    public var path: String
    /// As the function is to receive them (hop-by-hop and `Prefer` removed).
    public var headers: [Header]
    public var body: [UInt8]
    /// A Gatehouse host the result is POSTed to when it is done (`Gatehouse-Callback`), or nil.
    public var callback: String?
    /// Who called, as the stages verified it; the run carries the same identity.
    public var sourcePrincipal: String?
    public var acceptedAt: Date

    public init(
        id: String, method: String, host: String, path: String, headers: [Header], body: [UInt8], callback: String?, sourcePrincipal: String?,
        acceptedAt: Date
    ) {
        self.id = id
        self.method = method
        self.host = host
        self.path = path
        self.headers = headers
        self.body = body
        self.callback = callback
        self.sourcePrincipal = sourcePrincipal
        self.acceptedAt = acceptedAt
    }
}

/// The function's response to an async call (its body bounded), or why there is none.
public struct AsyncCallResult: Sendable, Hashable {
    public var status: Int
    public var headers: [AsyncCall.Header]
    public var body: [UInt8]
    public var completedAt: Date
    public init(status: Int, headers: [AsyncCall.Header], body: [UInt8], completedAt: Date) {
        self.status = status
        self.headers = headers
        self.body = body
        self.completedAt = completedAt
    }
}

public enum AsyncCallState: Sendable, Hashable {
    case pending(acceptedAt: Date)
    case running(acceptedAt: Date)
    case done(AsyncCallResult)
}

extension AsyncCallResult {
    /// The result as kept: a body over `maxBytes` cut there, with a
    /// `gatehouse-result-truncated: ORIGINAL_LENGTH` header.
    func kept(maxBytes: Int) -> AsyncCallResult {
        var kept = self
        if kept.body.count > maxBytes {
            kept.headers.append(AsyncCall.Header(name: "gatehouse-result-truncated", value: String(kept.body.count)))
            kept.body = Array(kept.body.prefix(maxBytes))
        }
        return kept
    }
}
