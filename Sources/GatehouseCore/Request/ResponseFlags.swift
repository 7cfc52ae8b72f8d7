/// Envoy's response flags, the short codes Istio puts in access logs and the `response_flags` label.
public struct ResponseFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// No route matched the request (404).
    public static let noRoute = ResponseFlags(rawValue: 1 << 0)
    /// The function's queue was full: upstream overflow (503).
    public static let upstreamOverflow = ResponseFlags(rawValue: 1 << 1)
    /// Connecting to the instance failed.
    public static let upstreamConnectionFailure = ResponseFlags(rawValue: 1 << 2)
    /// The instance closed the connection before the response was complete.
    public static let upstreamConnectionTermination = ResponseFlags(rawValue: 1 << 3)
    /// The request took longer than its timeout (504).
    public static let upstreamRequestTimeout = ResponseFlags(rawValue: 1 << 4)
    /// No instance could be made ready (the function failed to start).
    public static let noHealthyUpstream = ResponseFlags(rawValue: 1 << 5)
    /// The client went away before the response was complete.
    public static let downstreamConnectionTermination = ResponseFlags(rawValue: 1 << 6)

    /// An external authorizer denied the request or could not be asked.
    public static let unauthorizedExternalService = ResponseFlags(rawValue: 1 << 7)
    /// A route's fault injection delayed the request.
    public static let delayInjected = ResponseFlags(rawValue: 1 << 8)
    /// A route's fault injection aborted the request.
    public static let faultInjected = ResponseFlags(rawValue: 1 << 9)
    /// The route's retries were used up; the last attempt's failure was returned.
    public static let upstreamRetryLimitExceeded = ResponseFlags(rawValue: 1 << 10)
    /// A local rate limit refused the request (429).
    public static let rateLimited = ResponseFlags(rawValue: 1 << 11)
    /// The caller sent bytes that are not HTTP while its request was being served (Envoy's DPE).
    public static let downstreamProtocolError = ResponseFlags(rawValue: 1 << 12)

    private static let codes: [(ResponseFlags, String)] = [
        (.noRoute, "NR"), (.upstreamOverflow, "UO"), (.upstreamConnectionFailure, "UF"),
        (.upstreamConnectionTermination, "UC"), (.upstreamRequestTimeout, "UT"),
        (.noHealthyUpstream, "UH"), (.downstreamConnectionTermination, "DC"),
        (.unauthorizedExternalService, "UAEX"), (.delayInjected, "DI"), (.faultInjected, "FI"),
        (.upstreamRetryLimitExceeded, "URX"), (.rateLimited, "RL"), (.downstreamProtocolError, "DPE"),
    ]

    /// Envoy's rendering: codes joined by commas, `-` when there are none.
    public var description: String {
        if isEmpty { return "-" }
        var text = ""
        for (flag, code) in Self.codes where contains(flag) {
            if !text.isEmpty { text += "," }
            text += code
        }
        return text
    }
}
