import Foundation
import GatehouseConfig
import GatehouseCore
import GatehouseFunctions
import GatehouseRouting
import GatehouseStore
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle

/// Every `/api/` answer is JSON; every refusal has the ingress's error shape plus diagnostics.
extension AdminAPI {
    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let data = (try? AdminWire.encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data + [UInt8(ascii: "\n")])))
    }

    static func error(_ status: HTTPResponse.Status, code: String, _ message: String, diagnostics: [AdminWire.ErrorBody.Diagnostic]? = nil) -> Response {
        json(status, AdminWire.ErrorBody(status: status.code, code: code, message: message, diagnostics: diagnostics))
    }

    static func unknownKind(_ word: String) -> Response {
        error(.badRequest, code: "unknown_kind", "unknown kind \"\(word)\"; known kinds: \(ResourceKinds.known)")
    }

    static func error(_ error: ControlError) -> Response {
        switch error {
        case .invalid(let problems), .invalidStored(let problems):
            return Self.error(
                .badRequest, code: "invalid_config", error.description,
                diagnostics: problems.diagnostics.map {
                    .init(file: $0.location.file, line: $0.location.line, column: $0.location.column, field: $0.field, message: $0.message, fix: $0.fix)
                })
        case .empty(let message): return Self.error(.badRequest, code: "empty", message)
        case .tooLarge(let message): return Self.error(.contentTooLarge, code: "too_large", message)
        case .notFound: return Self.error(.notFound, code: "not_found", error.description)
        case .notReady: return Self.error(.badRequest, code: "function_not_ready", error.description)
        case .store: return Self.error(.serviceUnavailable, code: "store_unavailable", error.description)
        case .conflict(let conflict):
            var body = AdminWire.ErrorBody(status: 409, code: "conflict", message: error.description)
            body.resource = .init(kind: conflict.key.kind, namespace: conflict.key.namespace, name: conflict.key.name)
            body.currentGeneration = conflict.currentGeneration
            return json(.conflict, body)
        }
    }
}
