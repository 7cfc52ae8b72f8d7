extension RequestRecord {
    /// Istio's default share of traces exported when no `Telemetry` says otherwise
    /// (`meshConfig.defaultConfig.tracing.sampling`).
    public static let defaultSamplingPercentage = 1.0

    /// Decides, once, whether this request's spans are exported: the caller's decision when it sent
    /// one, otherwise the destination's `randomSamplingPercentage`.
    @discardableResult
    public mutating func decideSampling() -> Bool {
        trace.decideSampling(percentage: Self.defaultSamplingPercentage)
    }

    /// The W3C trace id, when the request belongs to a trace.
    public var traceId: String? { trace.isValid ? trace.traceId.description : nil }
}
