import GatehouseCore
import GatehouseExchange
import GatehouseListener
import NIOHTTP1

/// The one place where Gatehouse's errors become HTTP responses: status, response flag, and a
/// message that helps the caller without revealing internals (the detail goes to the access log).
///
/// Every body Gatehouse writes has the same shape: `{"status", "code", "message", "requestId"}`, plus
/// `reason` (a fixed code such as `jwt_expired`) when the error carries one. The one exception is a
/// CUSTOM authorizer's denial, passed on as the authorizer wrote it (as Envoy's ext_authz does).
struct ErrorResponses: ErrorRenderer {
    func render(_ error: GatehouseError, requestId: String) -> RenderedError {
        // An external authorizer's denial, as it wrote it. (Replies Gatehouse makes itself — a
        // route's redirect or direct response — are not errors: see `GatewayReply`.)
        if let passed = error.response, error.code == .deniedByExternalAuthorizer {
            return Self.passOn(passed, code: error.code)
        }
        var (status, flags, message) = Self.mapping(error.code)
        // `statusOnError`: the provider's configured status, with Gatehouse's own body.
        if let passed = error.response { status = HTTPResponseStatus(statusCode: passed.status) }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        if error.code == .invalidToken, !error.headers.contains(where: { $0.name == "www-authenticate" }) {
            // RFC 6750 §3; the reason code names the failed check, never a key or a claim value.
            headers.add(name: "www-authenticate", value: "Bearer error=\"invalid_token\", error_description=\"\(error.reason ?? "invalid")\"")
        }
        for (name, value) in error.headers { headers.add(name: name, value: value) }
        if let retryAfter = error.retryAfter {
            let seconds = max(1, (retryAfter.nanosecondsClamped + 999_999_999) / 1_000_000_000)
            headers.add(name: "retry-after", value: String(seconds))
        }
        var body = "{\"status\":\(status.code),\"code\":\"\(error.code.name)\",\"message\":\"\(message)\","
        if let reason = error.reason { body += "\"reason\":\"\(reason)\"," }  // reason codes are fixed identifiers
        body += "\"requestId\":"
        body += "\"" + requestId + "\"}\n"  // request ids are checked to need no escaping
        return RenderedError(status: status, flags: flags, headers: headers, body: body, message: message)
    }

    /// An external authorizer's denial, as it wrote it (Envoy's ext_authz passes status and body on).
    private static func passOn(_ passed: GatehouseError.PassedResponse, code: GatehouseError.Code) -> RenderedError {
        var headers = HTTPHeaders()
        for (name, value) in passed.headers { headers.add(name: name, value: value) }
        if !headers.contains(name: "content-type"), !passed.body.isEmpty { headers.add(name: "content-type", value: "text/plain") }
        return RenderedError(
            status: HTTPResponseStatus(statusCode: passed.status), flags: mapping(code).1, headers: headers, body: passed.body)
    }

    static func mapping(_ code: GatehouseError.Code) -> (HTTPResponseStatus, ResponseFlags, String) {
        switch code {
        case .badRequest: return (.badRequest, [], "The request is not valid HTTP/1.1.")
        case .headersTooLarge: return (.requestHeaderFieldsTooLarge, [], "The request headers are too large.")
        case .bodyTooLarge: return (.payloadTooLarge, [], "The request body is too large.")
        case .routeNotFound: return (.notFound, .noRoute, "No function is served at this host.")
        case .queueFull: return (.serviceUnavailable, .upstreamOverflow, "The function is at capacity; retry later.")
        case .functionUnavailable: return (.serviceUnavailable, .noHealthyUpstream, "The function is not available; retry later.")
        case .upstreamConnectFailure: return (.badGateway, .upstreamConnectionFailure, "The function could not be reached.")
        case .upstreamReset: return (.badGateway, .upstreamConnectionTermination, "The function closed the connection before it responded.")
        case .invalidForwardedRequest: return (.badGateway, [], "The request could not be passed on to the function.")
        case .invalidResponse: return (.badGateway, [], "The function's response could not be passed on.")
        case .upstreamTimeout: return (.gatewayTimeout, .upstreamRequestTimeout, "The function did not respond in time.")
        case .shuttingDown: return (.serviceUnavailable, [], "Gatehouse is shutting down; retry later.")
        case .deniedByPolicy: return (.forbidden, [], "Access denied by an authorization policy.")
        case .notAllowedByPolicy: return (.forbidden, [], "No authorization policy allows this request.")
        case .mtlsRequired: return (.forbidden, [], "This function accepts only mutual TLS callers.")
        case .mtlsNotAccepted: return (.forbidden, [], "This function does not accept mutual TLS callers.")
        case .rateLimited: return (.tooManyRequests, .rateLimited, "Too many requests; retry later.")
        case .concurrencyLimited: return (.tooManyRequests, .rateLimited, "Too many requests of this caller are in progress; retry later.")
        case .hopLimitExceeded: return (HTTPResponseStatus(statusCode: 508), [], "The request passed through Gatehouse too many times; functions may be calling each other in a loop.")
        case .overloaded: return (.serviceUnavailable, [], "Gatehouse is busy checking other requests; retry later.")
        case .unsupportedTransferCoding: return (.notImplemented, [], "Only the chunked transfer coding is supported.")
        case .upgradeRefused: return (.forbidden, [], "This protocol upgrade is not supported.")
        case .requestTimeout: return (.requestTimeout, [], "The request body did not arrive in time.")
        case .invalidToken: return (.unauthorized, [], "The request's token is not valid.")
        case .loginRequired: return (.unauthorized, [], "Log in to reach this function.")
        case .loginRefused: return (.badRequest, [], "The login could not be completed; start again.")
        case .loginNotAllowed: return (.forbidden, [], "This account may not use this function; log in with another one.")
        case .loginProviderUnavailable: return (.badGateway, [], "The identity provider could not be reached.")
        case .deniedByExternalAuthorizer: return (.forbidden, .unauthorizedExternalService, "Access denied by the external authorizer.")
        case .externalAuthorizerError: return (.forbidden, .unauthorizedExternalService, "The external authorizer could not be asked.")
        case .invalidEvent: return (.badRequest, [], "The request is not a valid CloudEvent.")
        case .deniedByEventPolicy: return (.forbidden, [], "No EventPolicy allows this sender to publish this event.")
        case .eventStoreFull: return (.serviceUnavailable, [], "The broker holds as many undelivered events as it may; retry later.")
        case .eventStoreFailed: return (.serviceUnavailable, [], "The event could not be stored; retry later.")
        default: return (.internalServerError, [], "Gatehouse could not handle the request.")
        }
    }
}
