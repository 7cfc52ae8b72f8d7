import Foundation
import GatehouseCore
import GatehouseExchange
import NIOHTTP1

/// The checks a request head passes before any stage sees it, and the one canonical form every
/// stage, the logs and the function then share.
///
/// What is refused here is what Envoy refuses with the same bytes, so nothing ambiguous reaches a
/// policy or a function:
/// - a transfer coding other than `chunked` → 501 (Envoy: "unsupported transfer encoding");
/// - `Content-Length` that is not one plain number, or both framing headers → 400;
/// - a `#` anywhere in the target → 400 (Envoy's default since CVE-2021-32779);
/// - a path whose escapes decode to NUL → 400 (Envoy's normalization rejects `%00`);
/// - no `Host` on HTTP/1.1, several, or one that is not a host[:port] → 400 (RFC 9112 §3.2);
/// - a body on `TRACE` → 400 (RFC 9110 §9.3.8: a client must not send one).
///
/// The host becomes canonical here — lower case, without a trailing dot — and replaces the
/// `Host` header, so routing, policy `hosts`, the access log and the function see one name.
/// (The port stays: relative redirects and the function's own URLs need it; routing and policy
/// compare hosts without it.)
public enum RequestHeadCheck {
    /// The head to serve, or why it is refused.
    public static func check(_ head: HTTPRequestHead) -> Result<HTTPRequestHead, GatehouseError> {
        var head = head
        // One pass finds what most requests have once (Host) or not at all (framing headers).
        let scan = HeaderScan(head.headers)
        if scan.framing {
            if let refusal = framingRefusal(head) { return .failure(refusal) }
            // Framing headers as checked: NIO keeps trailing spaces (`2 `, `Chunked `), and the
            // forwarder, the body accounting and TRACE's check read them (found by FuzzRequestHead).
            if let length = head.headers.first(name: "content-length"), isSpace(length.utf8.first) || isSpace(length.utf8.last) {
                head.headers.replaceOrAdd(name: "content-length", value: length.trimmingCharacters(in: .whitespaces))
            }
            if let coding = head.headers.first(name: "transfer-encoding"), coding != "chunked" {
                head.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
            }
        }
        if let refusal = targetRefusal(head.uri) { return .failure(refusal) }
        switch canonicalHost(scan, version: head.version) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let host?):
            if host != scan.host { head.headers.replaceOrAdd(name: "host", value: host) }
        case .success(nil): break
        }
        return .success(head)
    }

    /// The headers `check` needs, found in one pass (HTTPHeaders' lookups each scan every header).
    struct HeaderScan {
        var hosts = 0
        var host: String?
        /// Any `Content-Length` or `Transfer-Encoding`.
        var framing = false

        init(_ headers: HTTPHeaders) {
            for (name, value) in headers {
                switch name.utf8.count {
                case 4 where Self.named(name, "host"):
                    hosts += 1
                    host = value
                case 14 where Self.named(name, "content-length"), 17 where Self.named(name, "transfer-encoding"):
                    framing = true
                default:
                    break
                }
            }
        }

        /// ASCII case-insensitive equality with a lower-case name, without allocating.
        static func named(_ name: String, _ lower: String) -> Bool {
            guard name.utf8.count == lower.utf8.count else { return false }
            for (byte, expected) in zip(name.utf8, lower.utf8) {
                let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
                if folded != expected { return false }
            }
            return true
        }
    }

    // MARK: Framing

    /// Framing is decided here once; the forwarder then writes exactly one of `Content-Length` or
    /// `Transfer-Encoding: chunked`, never the client's own header.
    static func framingRefusal(_ head: HTTPRequestHead) -> GatehouseError? {
        // Raw values: an empty one counts too (`canonicalForm` would drop it).
        let codings = head.headers["transfer-encoding"].flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let lengths = head.headers["content-length"].flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if !codings.isEmpty {
            guard codings.count == 1, codings[0].utf8.count == 7, codings[0].lowercased() == "chunked" else {
                return GatehouseError(
                    .unsupportedTransferCoding, detail: "transfer-encoding \(head.headers["transfer-encoding"].joined(separator: ",")) is not chunked",
                    reason: "unsupported_transfer_coding")
            }
            if !lengths.isEmpty {
                return GatehouseError(.badRequest, detail: "both content-length and transfer-encoding", reason: "ambiguous_framing")
            }
        }
        if !lengths.isEmpty {
            guard lengths.count == 1, !lengths[0].isEmpty, lengths[0].utf8.count <= 18,
                  lengths[0].utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            else {
                return GatehouseError(.badRequest, detail: "content-length is not one number", reason: "invalid_content_length")
            }
        }
        if head.method == .TRACE, !codings.isEmpty || (!lengths.isEmpty && lengths[0] != "0") {
            return GatehouseError(.badRequest, detail: "TRACE with a body", reason: "body_not_allowed")
        }
        return nil
    }

    /// The body the client declared (see `RequestFraming`).
    public typealias Framing = RequestFraming

    /// How a head that passed `check` frames its body.
    public static func framing(_ head: HTTPRequestHead) -> Framing { RequestFraming.of(head) }

    // MARK: Target

    /// A `#` anywhere (Envoy refuses it in the query too: a function may read the target naively);
    /// `%00` in the path, before the query.
    static func targetRefusal(_ target: String) -> GatehouseError? {
        var previous: (UInt8, UInt8) = (0, 0)
        var inQuery = false
        for byte in target.utf8 {
            // After the query too (`/a?b#c`), as Envoy: a query match must not see `b#c` where
            // the function sees `b` (found by FuzzRequestHead).
            if byte == UInt8(ascii: "#") {
                return GatehouseError(.badRequest, detail: "fragment in the request target", reason: "fragment_in_path")
            }
            // Control characters, spaces and raw non-ASCII: the HTTP parser refuses them on a
            // connection, but an in-process caller's target (a callback URL, a destination path)
            // did not come through one, and a CR LF here would end the request line upstream.
            if byte <= 0x20 || byte >= 0x7F {
                return GatehouseError(.badRequest, detail: "a control character, space or non-ASCII byte in the request target", reason: "invalid_path")
            }
            if byte == UInt8(ascii: "?") { inQuery = true }  // the query is the function's to read
            // `%00` in the path: normalization would decode it into a NUL.
            if !inQuery, previous == (UInt8(ascii: "%"), UInt8(ascii: "0")), byte == UInt8(ascii: "0") {
                return GatehouseError(.badRequest, detail: "%00 in the path", reason: "invalid_path")
            }
            previous = (previous.1, byte)
        }
        return nil
    }

    // MARK: Host

    /// The `Host` value in canonical form; nil when an HTTP/1.0 request has none.
    static func canonicalHost(_ scan: HeaderScan, version: HTTPVersion) -> Result<String?, GatehouseError> {
        guard scan.hosts == 1, let value = scan.host else {
            if scan.hosts == 0, version.major == 1, version.minor == 0 { return .success(nil) }
            return .failure(GatehouseError(
                .badRequest, detail: scan.hosts == 0 ? "no Host header" : "\(scan.hosts) Host headers", reason: "invalid_host"))
        }
        guard let host = canonical(value) else {
            return .failure(GatehouseError(.badRequest, detail: "Host is not host[:port]", reason: "invalid_host"))
        }
        return .success(host)
    }

    /// `host[:port]` lower-cased, without a trailing dot on the name; nil when it is not one.
    /// Idempotent: a canonical host is its own canonical form.
    /// An IPv6 literal keeps its brackets.
    public static func canonical(_ value: String) -> String? {
        if isAlreadyCanonical(value) { return value }  // the common case: one scan, no copy
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty, bytes.count <= 255 + 6 else { return nil }
        var nameEnd = bytes.count
        var portStart: Int?
        if bytes[0] == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")), close > 1 else { return nil }
            for byte in bytes[1..<close] where !(isHex(byte) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".")) { return nil }
            nameEnd = close + 1
            if nameEnd < bytes.count {
                guard bytes[nameEnd] == UInt8(ascii: ":") else { return nil }
                portStart = nameEnd + 1
            }
        } else {
            if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
                nameEnd = colon
                portStart = colon + 1
            }
            for byte in bytes[..<nameEnd] where !isNameByte(byte) { return nil }
        }
        if let portStart {
            let port = bytes[portStart...]
            guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let number = Int(String(decoding: port, as: UTF8.self)), number <= 65535 else { return nil }
        }
        var name = bytes[..<nameEnd]
        if name.last == UInt8(ascii: "."), bytes[0] != UInt8(ascii: "[") { name = name.dropLast() }
        // No empty label (`a..b`, a leading dot, `a..`): `a..` became `a.` here and `a` in
        // routing, so routing and policy `hosts` saw different names (found by FuzzRequestHead
        // and by review).
        guard !name.isEmpty, name.first != UInt8(ascii: "."), name.last != UInt8(ascii: ".") else { return nil }
        var previous: UInt8 = 0
        for byte in name {
            if byte == UInt8(ascii: "."), previous == UInt8(ascii: ".") { return nil }
            previous = byte
        }
        let needsLowering = name.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        if !needsLowering, name.count == nameEnd { return value }  // the common case: no copy
        var out = name.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
        if let portStart { out += bytes[(portStart - 1)...] }
        return String(decoding: out, as: UTF8.self)
    }

    /// A lower-case DNS name of non-empty labels, optionally `:PORT` (at most 5 digits, up to
    /// 65535): nothing to change. Anything else takes the full path above.
    private static func isAlreadyCanonical(_ value: String) -> Bool {
        var previous: UInt8 = UInt8(ascii: ".")  // a leading dot is an empty label
        var portDigits = -1
        var port = 0
        var count = 0
        for byte in value.utf8 {
            count += 1
            if portDigits >= 0 {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), portDigits < 5 else { return false }
                port = port * 10 + Int(byte - UInt8(ascii: "0"))
                portDigits += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                break
            case UInt8(ascii: "."):
                if previous == UInt8(ascii: ".") { return false }
            case UInt8(ascii: ":"):
                if previous == UInt8(ascii: ".") { return false }  // a trailing dot to remove
                portDigits = 0
            default:
                return false
            }
            previous = byte
        }
        if portDigits == 0 || port > 65535 { return false }
        return count > 0 && count <= 255 + 6 && previous != UInt8(ascii: ".")
    }

    /// RFC 3986 reg-name: unreserved and sub-delims (no `%`-escapes: no DNS name needs one).
    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// RFC 9110 OWS.
    private static func isSpace(_ byte: UInt8?) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): true
        default: false
        }
    }
}
