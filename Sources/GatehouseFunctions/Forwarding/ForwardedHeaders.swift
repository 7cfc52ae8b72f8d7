import GatehouseCore
import GatehouseExchange
import NIOHTTP1

/// A request between two nodes of a mesh (`NodeHop`), as one end sees it.
enum NodeHopHeaders {
    /// To a peer node (`target`, by name): the revision it runs, and the caller's subject for its assertion.
    case sending(revision: String, subject: String?, target: String)
    /// From a peer node, taken: the `X-Forwarded-Client-Cert` values it set.
    case received(clientCertificate: [String])
}

/// The headers a proxy must not pass on (RFC 9110 §7.6.1), and the ones it adds.
///
/// Framing is Gatehouse's own: the client's `Content-Length` and `Transfer-Encoding` never pass
/// through. The forwarded request carries exactly `content-length: N` or `transfer-encoding: chunked`,
/// as the listener parsed the body (`RequestFraming.of`), so NIO's encoder — which chunks only
/// on that exact spelling — frames what it writes the way the header says.
enum ForwardedHeaders {
    /// In the order `hopByHopIndex` numbers them.
    static let hopByHop: [String] = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
    ]
    /// Set only here, from the verified peer (the listener removes a caller's own on arrival).
    static let clientCertificate = "x-forwarded-client-cert"

    /// The request as the function receives it: hop-by-hop headers removed (and any named in
    /// `Connection`), `Forwarded` and `X-Forwarded-*` added, `X-Request-Id` set.
    /// `path`, when given, replaces the request target (the normalized path authorization checked);
    /// `edits` are the stages' header changes (verified claims for the function, a consumed token);
    /// `peer`, the caller's verified identity over mutual TLS, becomes `X-Forwarded-Client-Cert` in
    /// Envoy's form (`By=` the function's SPIFFE ID, `Hash=` of the caller's certificate, `URI=` its ID);
    /// `remote`, a remote function's endpoint: its authority becomes `Host`, its path the prefix.
    static func upstreamRequest(
        _ head: HTTPRequestHead, requestId: String, clientAddress: String?, forwardedFor: inout String?,
        path: String, edits: HeaderEdits = HeaderEdits(), peer: PeerIdentity? = nil, destinationIdentity: String? = nil,
        remote: RemoteEndpoint? = nil, overTLS: Bool = false, upgrade: String? = nil,
        trace: TraceContext? = nil, parentSpan: SpanID? = nil, hop: NodeHopHeaders? = nil
    ) -> HTTPRequestHead {
        var headers = head.headers
        strip(&headers, keepingTrailersTE: true)
        if let trace, let parentSpan, trace.isValid { propagate(trace, parent: parentSpan, into: &headers) }
        if let upgrade {
            // A WebSocket handshake is asked of the function itself (hop-by-hop, so set anew), also
            // when another node passed it on.
            headers.add(name: "connection", value: "upgrade")
            headers.add(name: "upgrade", value: upgrade)
        }
        if case .received(let certificates) = hop {
            // Another node prepared this request for the function (its X-Forwarded-*, its request
            // id); this node only re-signs the assertion (an edit) and restores what the node vouched for.
            for (name, value) in edits.set where !NodeHop.requestHeaders.contains(name.lowercased()) {
                headers.replaceOrAdd(name: name, value: value)
            }
            for value in certificates { headers.add(name: clientCertificate, value: value) }
            frame(&headers, as: RequestFraming.of(head), method: head.method, edited: true)
            forwardedFor = headers["x-forwarded-for"].joined(separator: ", ")
            return HTTPRequestHead(version: .http1_1, method: head.method, uri: path, headers: headers)
        }
        if !edits.isEmpty {
            for name in edits.remove { headers.remove(name: name) }
            // Only Gatehouse names the mesh caller or speaks for another node: no route or authorizer edits those.
            for (name, value) in edits.set where !isGatehouses(name) { headers.replaceOrAdd(name: name, value: value) }
            for (name, value) in edits.add where !isGatehouses(name) { headers.add(name: name, value: value) }
        }
        frame(&headers, as: RequestFraming.of(head), method: head.method, edited: !edits.isEmpty)
        if let peer, let destinationIdentity {
            // An identity Gatehouse vouches for in-process (a trigger delivering) has no certificate: no `Hash=`.
            let hash = peer.certificateHash.isEmpty ? "" : ";Hash=\(peer.certificateHash)"
            headers.add(name: clientCertificate, value: "By=\(destinationIdentity)\(hash);URI=\(peer.uri)")
        }
        let host = head.headers.first(name: "host") ?? ""
        let client = clientAddress ?? "unknown"
        // Most requests carry none of the headers set below: one pass finds which are there, so
        // each is only added (no scan per name to remove an earlier one).
        let present = SetHeaders(in: headers)
        // A chain may arrive split over several header lines; all of it is kept, in order.
        let earlier = present.contains(.forwardedFor) ? headers["x-forwarded-for"] : []
        let chain = earlier.isEmpty ? client : (earlier + [client]).joined(separator: ", ")
        forwardedFor = chain
        let proto = overTLS || peer != nil ? "https" : "http"
        let element = "for=\(forwardedNode(client));host=\"\(host)\";proto=\(proto)"
        let existing = present.contains(.forwarded) ? headers["forwarded"] : []
        if present.isEmpty {
            headers.add(name: "x-forwarded-for", value: chain)
            headers.add(name: "x-forwarded-proto", value: proto)
            headers.add(name: "x-forwarded-host", value: host)
            headers.add(name: "forwarded", value: element)
            headers.add(name: "x-request-id", value: requestId)
        } else {
            headers.replaceOrAdd(name: "x-forwarded-for", value: chain)
            headers.replaceOrAdd(name: "x-forwarded-proto", value: proto)
            headers.replaceOrAdd(name: "x-forwarded-host", value: host)
            headers.replaceOrAdd(name: "forwarded", value: existing.isEmpty ? element : (existing + [element]).joined(separator: ", "))
            headers.replaceOrAdd(name: "x-request-id", value: requestId)
        }
        if case .sending(let revision, let subject, let target) = hop {
            headers.replaceOrAdd(name: NodeHop.revisionHeader, value: revision)
            headers.replaceOrAdd(name: NodeHop.targetHeader, value: target)
            if let subject { headers.replaceOrAdd(name: NodeHop.subjectHeader, value: subject) } else { headers.remove(name: NodeHop.subjectHeader) }
        }
        guard let remote else {
            return HTTPRequestHead(version: .http1_1, method: head.method, uri: path, headers: headers)
        }
        // A remote endpoint is addressed by its own name (a Cloud Function routes by it); the
        // caller's stays in X-Forwarded-Host.
        headers.replaceOrAdd(name: "host", value: remote.authority)
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: remote.target(for: path), headers: headers)
    }

    private static func isGatehouses(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered == clientCertificate || NodeHop.requestHeaders.contains(lowered)
    }

    /// The function's response as the client receives it, with the route's header operations.
    static func downstreamResponse(_ head: HTTPResponseHead) -> HTTPResponseHead {
        var head = head
        strip(&head.headers)
        // Only a node's own refusal says so (a function's would make the sender run the request twice).
        if head.headers.contains(name: NodeHop.refusedHeader) { head.headers.remove(name: NodeHop.refusedHeader) }
        // The body was de-chunked (whatever the coding's spelling); NIO's encoder chunks it again.
        if head.headers.contains(name: "transfer-encoding") {
            head.headers.remove(name: "transfer-encoding")
            head.headers.remove(name: "content-length")
        }
        head.version = .http1_1
        return head
    }

    /// Replaces whatever framing headers are there (a stage's edits included) with `framing`.
    private static func frame(_ headers: inout HTTPHeaders, as framing: RequestFraming, method: HTTPMethod, edited: Bool) {
        // A head without framing headers, that no stage edited, has none to remove (the common GET).
        if framing != .none || edited {
            headers.remove(name: "content-length")
            headers.remove(name: "transfer-encoding")
        }
        switch framing {
        case .none:
            // A method that normally carries a body says it has none (NIO would chunk an empty one).
            if method == .POST || method == .PUT || method == .PATCH { headers.add(name: "content-length", value: "0") }
        case .length(let length): headers.add(name: "content-length", value: length)
        case .chunked: headers.add(name: "transfer-encoding", value: "chunked")
        }
    }

    /// `keepingTrailersTE`: `te: trailers` is the one TE a proxy passes on (gRPC servers require
    /// it; Envoy keeps it too).
    private static func strip(_ headers: inout HTTPHeaders, keepingTrailersTE: Bool = false) {
        // One pass finds which are there: most requests carry none, most responses only
        // `Connection: keep-alive`, and only those present are removed (a scan each).
        var present: UInt8 = 0
        var connection: (value: String, lines: Int) = ("", 0)
        for header in headers {
            guard let index = hopByHopIndex(header.name) else { continue }
            present |= 1 << index
            if index == 0 { connection = (header.value, connection.lines + 1) }
        }
        guard present != 0 else { return }
        // `Connection: keep-alive` (or `close`) alone names nothing else: no token list to parse.
        if present == 1, connection.lines == 1, HeaderName.is(connection.value, "keep-alive") || HeaderName.is(connection.value, "close") {
            headers.remove(name: "connection")
            return
        }
        let named = present & 1 != 0 ? headers[canonicalForm: "connection"] : []
        let trailersTE = keepingTrailersTE && present & 1 << 3 != 0 && headers[canonicalForm: "te"].contains { $0.lowercased() == "trailers" }
        for (index, name) in hopByHop.enumerated() where present & 1 << index != 0 { headers.remove(name: name) }
        defer { if trailersTE { headers.replaceOrAdd(name: "te", value: "trailers") } }
        // A caller may name its own hop-by-hop headers, but not `Host`: the function gets the
        // canonical host whatever `Connection` says (framing is set afresh after this). Names
        // of hop-by-hop headers (`keep-alive`) are gone already.
        for token in named where !token.isEmpty && token.lowercased() != "host" {
            let name = String(token)
            if hopByHopIndex(name) == nil { headers.remove(name: name) }
        }
    }

    /// Whether `name` is one of `hopByHop`, in any case.
    static func isHopByHop(_ name: String) -> Bool {
        hopByHopIndex(name) != nil
    }

    /// `name`'s index in `hopByHop`, in any case: by its length first, then byte by byte (no
    /// lowercased copy per header, twice per request).
    private static func hopByHopIndex(_ name: String) -> Int? {
        switch name.utf8.count {
        case 10: HeaderName.is(name, "connection") ? 0 : HeaderName.is(name, "keep-alive") ? 1 : nil
        case 16: HeaderName.is(name, "proxy-connection") ? 2 : nil
        case 2: HeaderName.is(name, "te") ? 3 : nil
        case 7: HeaderName.is(name, "trailer") ? 4 : HeaderName.is(name, "upgrade") ? 5 : nil
        default: nil
        }
    }

    /// The trace context the function continues: the caller's trace headers are replaced by
    /// Gatehouse's, naming `parent` (this attempt's span) as the function's parent span.
    static func propagate(_ trace: TraceContext, parent: SpanID, into headers: inout HTTPHeaders) {
        if trace.callerSentHeaders {
            for name in TraceContext.headerNames { headers.remove(name: name) }
        }
        headers.add(name: "traceparent", value: trace.traceparent(parent: parent))
        if let state = trace.traceState { headers.add(name: "tracestate", value: state) }
        if trace.b3 {
            headers.add(name: "x-b3-traceid", value: trace.traceId.description)
            headers.add(name: "x-b3-spanid", value: parent.description)
            headers.add(name: "x-b3-parentspanid", value: trace.spanId.description)
            headers.add(name: "x-b3-sampled", value: trace.sampled == true ? "1" : "0")
        }
    }

    /// RFC 7239 node syntax: IPv6 addresses are quoted and bracketed.
    private static func forwardedNode(_ address: String) -> String {
        address.utf8.contains(UInt8(ascii: ":")) ? "\"[\(address)]\"" : address
    }
}

/// Which of the headers `upstreamRequest` sets a request already carries (by any spelling).
/// Their names differ in length, so a name is compared only with the one of its length.
struct SetHeaders: OptionSet {
    let rawValue: UInt8
    static let forwardedFor = SetHeaders(rawValue: 1)
    static let forwardedProto = SetHeaders(rawValue: 2)
    static let forwardedHost = SetHeaders(rawValue: 4)
    static let forwarded = SetHeaders(rawValue: 8)
    static let requestId = SetHeaders(rawValue: 16)

    init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    init(in headers: HTTPHeaders) {
        var found: SetHeaders = []
        for (name, _) in headers {
            switch name.utf8.count {
            case 15 where HeaderName.is(name, "x-forwarded-for"): found.insert(.forwardedFor)
            case 17 where HeaderName.is(name, "x-forwarded-proto"): found.insert(.forwardedProto)
            case 16 where HeaderName.is(name, "x-forwarded-host"): found.insert(.forwardedHost)
            case 9 where HeaderName.is(name, "forwarded"): found.insert(.forwarded)
            case 12 where HeaderName.is(name, "x-request-id"): found.insert(.requestId)
            default: break
            }
        }
        self = found
    }
}
