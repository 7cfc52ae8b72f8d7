/// Bounds on what one client may send, so that no request can make Gatehouse grow without limit.
public struct ListenerLimits: Sendable, Hashable {
    /// Request line and headers together (Envoy's default `max_request_headers_kb` is 60); past it, 431.
    public var maxHeaderBytes: Int
    /// Request body (Cloud Run's HTTP/1 limit is 32 MiB); past it, 413.
    public var maxBodyBytes: Int

    public init(maxHeaderBytes: Int = 60 * 1024, maxBodyBytes: Int = 32 * 1024 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }
}
