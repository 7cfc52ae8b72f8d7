/// Bounds on what one client may send, so that no request can make Gatehouse grow without limit.
public struct ListenerLimits: Sendable, Hashable {
    /// Request line and headers together (Envoy's default `max_request_headers_kb` is 60); past it, 431.
    public var maxHeaderBytes: Int
    /// Request body (Cloud Run's HTTP/1 limit is 32 MiB); past it, 413.
    public var maxBodyBytes: Int
    /// A client connection with no request in progress is closed after this long (also ends
    /// clients that trickle a request head in too slowly to ever complete it).
    public var idleTimeout: Duration
    /// A request whose body stops arriving for this long is answered 408 and its connection closed,
    /// so a client trickling a body cannot hold a function's slot for the whole function timeout.
    /// Time the client spends paused by Gatehouse (back-pressure) does not count. Checked with the
    /// idle sweep, every few seconds, so it fires up to one sweep late.
    public var requestBodyIdleTimeout: Duration
    /// Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); past
    /// it a new stream is refused (REFUSED_STREAM). Istio's gateways use 100 (Envoy's own default
    /// is 2^31 - 1); each open stream may hold a function's slot, so it is a per-client cap too.
    public var maxConcurrentStreams: Int

    public init(
        maxHeaderBytes: Int = 60 * 1024, maxBodyBytes: Int = 32 * 1024 * 1024, idleTimeout: Duration = .seconds(60),
        requestBodyIdleTimeout: Duration = .seconds(30), maxConcurrentStreams: Int = 100
    ) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.idleTimeout = idleTimeout
        self.requestBodyIdleTimeout = requestBodyIdleTimeout
    }
}
