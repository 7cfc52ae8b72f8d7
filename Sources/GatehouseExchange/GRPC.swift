import GatehouseCore
import NIOHTTP1

/// What Gatehouse reads and writes of gRPC: which requests are calls, their `grpc-timeout`, and
/// refusals in the form gRPC clients read (a status in trailers, never an HTTP error body).
public enum GRPC {
    /// `application/grpc`, `application/grpc+proto`, `application/grpc;…` — not `application/grpc-web`
    /// (a different wire format, as Envoy tells them apart).
    public static func isCall(_ headers: HTTPHeaders) -> Bool {
        guard let type = headers.first(name: "content-type") else { return false }
        let prefix = "application/grpc"
        guard type.utf8.count >= prefix.utf8.count,
              type.utf8.prefix(prefix.utf8.count).elementsEqual(prefix.utf8, by: { lowercased($0) == $1 })
        else { return false }
        guard let next = type.utf8.dropFirst(prefix.utf8.count).first else { return true }
        return next == UInt8(ascii: "+") || next == UInt8(ascii: ";")
    }

    /// `grpc-timeout`: 1 to 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`); nil when malformed,
    /// which gRPC servers treat as no deadline.
    public static func timeout(_ value: String) -> Duration? {
        let bytes = Array(value.utf8)
        guard (2...9).contains(bytes.count), let unit = bytes.last else { return nil }
        var amount: Int64 = 0
        for byte in bytes.dropLast() {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        switch unit {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }

    /// The status code in `grpc-status`, when it is one.
    public static func status(in headers: HTTPHeaders) -> Int? {
        guard let value = headers.first(name: "grpc-status"), let code = Int(value), (0...99).contains(code) else { return nil }
        return code
    }

    /// Removes the status fields from a head and returns them (for a trailers-only answer).
    public static func takeStatus(from headers: inout HTTPHeaders) -> HTTPHeaders {
        var taken = HTTPHeaders()
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            for value in headers[name] { taken.add(name: name, value: value) }
            headers.remove(name: name)
        }
        return taken
    }

    /// The gRPC status for a refusal: the mapping gRPC and Envoy use for HTTP statuses
    /// (401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429/502/503/504 UNAVAILABLE,
    /// 400 INTERNAL, else UNKNOWN), except that a call that ran out of time is DEADLINE_EXCEEDED,
    /// which is what its client reports for the same deadline.
    public static func status(for error: GatehouseError, httpStatus: Int) -> Int {
        if error.code == .upstreamTimeout { return 4 }
        switch httpStatus {
        case 400: return 13
        case 401: return 16
        case 403: return 7
        case 404: return 12
        case 429, 502, 503, 504: return 14
        default: return 2
        }
    }

    /// A refusal as gRPC clients read it: HTTP 200, `content-type: application/grpc`, no message,
    /// and `grpc-status` / `grpc-message` in trailers. The rendered error's headers that mean
    /// something to a caller (`www-authenticate`, `retry-after`) stay in the head.
    public static func refusal(_ rendered: RenderedError, for error: GatehouseError, requestId: String) -> (head: HTTPResponseHead, trailers: HTTPHeaders, status: Int) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/grpc")
        for (name, value) in rendered.headers where name.lowercased() != "content-type" && name.lowercased() != "content-length" {
            headers.add(name: name, value: value)
        }
        let code = status(for: error, httpStatus: Int(rendered.status.code))
        var trailers = HTTPHeaders()
        trailers.add(name: "grpc-status", value: String(code))
        var text = rendered.message.isEmpty ? "Refused by Gatehouse." : rendered.message
        if let reason = error.reason { text += " (\(reason))" }
        trailers.add(name: "grpc-message", value: percentEncoded(text + " request id \(requestId)"))
        return (HTTPResponseHead(version: .http1_1, status: .ok, headers: headers), trailers, code)
    }

    /// `grpc-message` is percent-encoded: bytes outside printable ASCII, and `%` itself.
    public static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte >= 0x20, byte <= 0x7E, byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
