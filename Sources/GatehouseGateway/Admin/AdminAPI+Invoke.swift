import Foundation
import GatehouseCore
import GatehouseExchange
import Hummingbird
import NIOCore
import NIOHTTP1

extension AdminWire {
    /// `POST /api/v1/invoke`: a request run in-process through the pipeline (no socket).
    public struct InvokeRequest: Codable, Sendable {
        /// The `Host` (a function's `NAME.NAMESPACE.<domain>`, or a VirtualService host).
        public var host: String
        public var method: String?
        public var path: String?
        public var headers: [[String]]?
        /// The body, base64 (requests carry bytes, not text).
        public var body: String?

        public init(host: String, method: String?, path: String?, headers: [[String]]?, body: String?) {
            self.host = host
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
        }
    }

    public struct InvokeResponse: Codable, Sendable {
        public var status: Int
        public var headers: [[String]]
        /// The body, base64.
        public var body: String
        public var requestId: String
    }
}

extension AdminAPI {
    /// Runs the request through the same pipeline as the ingress, in-process. The caller holds
    /// the admin credential, which already allows any apply: this grants nothing new, and the
    /// function's own policies still apply to the request (it arrives as ingress traffic).
    func invoke(_ request: Request) async -> Response {
        guard let invoker else { return Self.error(.serviceUnavailable, code: "unavailable", "in-process invocation is not available") }
        let body: AdminWire.InvokeRequest
        switch await decode(AdminWire.InvokeRequest.self, from: request) {
        case .success(let decoded): body = decoded
        case .failure(let response): return response
        }
        var headers: [(name: String, value: String)] = []
        for pair in body.headers ?? [] {
            guard pair.count == 2 else { return Self.error(.badRequest, code: "bad_request", "headers are [name, value] pairs") }
            headers.append((pair[0], pair[1]))
        }
        var payload: ByteBuffer?
        if let encoded = body.body {
            guard let data = Data(base64Encoded: encoded) else { return Self.error(.badRequest, code: "bad_request", "body is not base64") }
            payload = ByteBuffer(bytes: data)
        }
        let method = HTTPMethod(rawValue: (body.method ?? (payload == nil ? "GET" : "POST")).uppercased())
        let result = await invoker.invoke(.init(method: method, host: body.host, path: body.path ?? "/", headers: headers, body: payload))
        switch result {
        case .success(let response):
            return Self.json(.ok, AdminWire.InvokeResponse(
                status: response.status, headers: response.headers.map { [$0.name, $0.value] },
                body: Data(response.body.readableBytesView).base64EncodedString(), requestId: response.requestId))
        case .failure(.refused(let error)):
            return Self.error(.badRequest, code: error.code.name, "the request was refused before any stage: \(error.detail)")
        case .failure(.incomplete(.responseTooLarge(let limit))):
            return Self.error(.badGateway, code: "response_too_large", "the response body was larger than \(limit) bytes")
        case .failure(.incomplete(.aborted)):
            return Self.error(.badGateway, code: "incomplete", "the response did not complete (see the access log)")
        }
    }
}
