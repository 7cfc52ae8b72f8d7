extension RequestRecord {
    /// Decides, once, whether this request's spans are exported: the caller's decision when it sent
    /// one, otherwise the destination's `randomSamplingPercentage` (`mesh`'s for a request that
    /// reached no function).
    @discardableResult
    public mutating func decideSampling(mesh: TracingPolicy? = nil) -> Bool {
        let percentage = destination?.telemetry.tracing.randomSamplingPercentage
            ?? mesh?.randomSamplingPercentage ?? TelemetryPolicy.default.tracing.randomSamplingPercentage
        return trace.decideSampling(percentage: percentage)
    }

    /// The W3C trace id, when the request belongs to a trace.
    public var traceId: String? { trace.isValid ? trace.traceId.description : nil }
}
