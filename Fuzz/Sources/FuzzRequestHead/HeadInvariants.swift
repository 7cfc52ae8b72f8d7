import GatehouseCore
@testable import GatehouseListener
import NIOHTTP1

/// What must hold for every head on the listener's path, whatever the client sent.
enum HeadInvariants {
    static func check(_ received: HTTPRequestHead) {
        guard let head = RequestTarget.originForm(received) else { return }  // 400 invalid_target
        precondition(
            head.uri.utf8.first == UInt8(ascii: "/") || (head.uri == "*" && head.method == .OPTIONS),
            "originForm left a target that is not origin-form: \(head.uri)")
        guard case .success(let checked) = RequestHeadCheck.check(head) else { return }  // refused: 400/501
        checkFraming(checked)
        checkTarget(checked)
        checkHost(checked)
        precondition(RequestHeadCheck.check(checked) == .success(checked), "RequestHeadCheck is not idempotent: \(checked)")
        checkPath(checked.uri)
        FixedRouting.route(checked)
    }

    /// One framing header at most, and only `chunked` as a transfer coding: the forwarder frames
    /// the body from this alone.
    private static func checkFraming(_ head: HTTPRequestHead) {
        let codings = head.headers["transfer-encoding"]
        let lengths = head.headers["content-length"]
        precondition(codings.count + lengths.count <= 1, "passed with several framing headers: \(head.headers)")
        if let coding = codings.first {
            precondition(coding.lowercased() == "chunked", "passed with transfer-encoding \(coding)")
            precondition(RequestHeadCheck.framing(head) == .chunked, "chunked head not framed as chunked")
        }
        if let length = lengths.first {
            precondition(!length.isEmpty && length.utf8.allSatisfy { (48...57).contains($0) }, "passed with content-length \(length)")
            precondition(RequestHeadCheck.framing(head) == .length(length), "length not framed as given")
        }
        if head.method == .TRACE {
            precondition(codings.isEmpty && (lengths.first ?? "0") == "0", "TRACE passed with a body")
        }
    }

    /// No fragment anywhere, no `%00` in the path (it would decode to NUL).
    private static func checkTarget(_ head: HTTPRequestHead) {
        precondition(!head.uri.utf8.contains(UInt8(ascii: "#")), "passed with a fragment: \(head.uri)")
        let path = Array(PathNormalization.split(head.uri).path.utf8)
        let nul = Array("%00".utf8)
        precondition(!path.indices.contains { path[$0...].starts(with: nul) }, "passed with %00 in the path: \(head.uri)")
    }

    /// One canonical `Host` (or none on HTTP/1.0), already in its own canonical form.
    private static func checkHost(_ head: HTTPRequestHead) {
        let hosts = head.headers["host"]
        precondition(hosts.count <= 1, "passed with \(hosts.count) Host headers")
        guard let host = hosts.first else {
            precondition(head.version == .http1_0, "passed without Host on \(head.version)")
            return
        }
        precondition(RequestHeadCheck.canonical(host) == host, "Host \(host) is not canonical: \(String(describing: RequestHeadCheck.canonical(host)))")
        precondition(host == host.lowercased() || host.hasPrefix("["), "Host \(host) has capitals")
    }

    /// Normalization resolves every dot segment, decodes no NUL, and is idempotent — a second
    /// stage normalizing again must see what the first one matched.
    private static func checkPath(_ target: String) {
        let path = PathNormalization.split(target).path
        let normalized = PathNormalization.normalize(path)
        precondition(PathNormalization.normalize(normalized) == normalized, "normalize is not idempotent: \(path) → \(normalized)")
        precondition(!normalized.utf8.contains(0), "normalized path has a NUL: \(path)")
        let bytes = Array(normalized.utf8), nul = Array("%00".utf8)
        precondition(!bytes.indices.contains { bytes[$0...].starts(with: nul) }, "normalized path has %00: \(path) → \(normalized)")
        let segments = normalized.split(separator: "/", omittingEmptySubsequences: false)
        precondition(!segments.contains(".") && !segments.contains(".."), "dot segment left: \(path) → \(normalized)")
        if path.hasPrefix("/") { precondition(normalized.hasPrefix("/"), "normalized path lost its slash: \(path) → \(normalized)") }
    }
}
