import GatehouseCore
import NIOCore
import NIOHTTP2

/// HTTP/2 settings and denial-of-service bounds for client connections (docs/security.md,
/// "HTTP/2"). Each number is the bound Envoy's edge guidance or NIO sets, chosen here on purpose.
enum HTTP2ListenerConfiguration {
    /// Per-stream receive window: Envoy's edge recommendation (64 KiB). A request body is read no
    /// faster than the forwarder passes it on, so this bounds what a stream can make Gatehouse buffer.
    static let streamWindow = 65_535
    /// Connection receive window: Envoy's edge recommendation (1 MiB), shared by all streams.
    static let connectionWindow = 1 << 20

    static func handler(_ limits: ListenerLimits) -> NIOHTTP2Handler.Configuration {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: limits.maxConcurrentStreams),
            // The same bound as an HTTP/1.1 request head; NIO's HPACK decoder enforces it.
            HTTP2Setting(parameter: .maxHeaderListSize, value: limits.maxHeaderBytes),
            HTTP2Setting(parameter: .initialWindowSize, value: streamWindow),
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
        connection.targetWindowSize = connectionWindow
        // NIO's defaults, named so a change of default cannot loosen them unnoticed:
        // - empty DATA frames in a row (CVE-2019-9518): 1, then ENHANCE_YOUR_CALM;
        connection.maximumSequentialEmptyDataFrames = 1
        // - CONTINUATION frames for one header block (CVE-2024-27316 class): 5, then the connection ends;
        connection.maximumSequentialContinuationFrames = 5
        // - outbound control frames (PING/SETTINGS acks) waiting for a client that does not read
        //   (CVE-2019-9512, -9515): 1000, then the connection ends;
        connection.maximumBufferedControlFrames = 1_000
        // - PING, SETTINGS and PRIORITY frames received (flood): 200 per 30 s, then ENHANCE_YOUR_CALM.
        connection.controlFrameRateLimit.maximumCount = 200
        connection.controlFrameRateLimit.windowLength = .seconds(30)

        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = streamWindow
        // Rapid reset (CVE-2023-44487): RST_STREAM frames received, 200 per 30 s, then GOAWAY
        // ENHANCE_YOUR_CALM; likewise streams the client makes fail (malformed heads, CVE-2019-9514).
        stream.streamResetFrameRateLimit.maximumCount = 200
        stream.streamResetFrameRateLimit.windowLength = .seconds(30)
        stream.streamErrorRateLimit.maximumCount = 200
        stream.streamErrorRateLimit.windowLength = .seconds(30)
        return NIOHTTP2Handler.Configuration(connection: connection, stream: stream)
    }
}
