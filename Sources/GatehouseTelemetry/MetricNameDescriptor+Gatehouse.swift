import Prometheus

extension MetricNameDescriptor {
    /// A descriptor from a full metric name whose last `_`-separated word is its unit
    /// (`istio_requests_total` → `istio_requests` + `total`), with the help text every metric needs.
    /// Public so that every module names its metrics the same way.
    public static func named(_ fullName: String, help: String) -> MetricNameDescriptor {
        let split = fullName.lastIndex(of: "_")!
        return MetricNameDescriptor(
            metricName: String(fullName[..<split]), unitName: String(fullName[fullName.index(after: split)...]),
            helpText: help)
    }
}
