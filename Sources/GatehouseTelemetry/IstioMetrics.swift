import GatehouseCore
import NIOConcurrencyHelpers
import Prometheus

/// Istio's standard request metrics, with Istio's names, buckets and full label set.
///
/// Label values Gatehouse cannot know (the source workload of a plaintext caller) are `unknown`,
/// as Istio reports them; a mutual TLS caller's SPIFFE ID gives `source_principal` and
/// `source_workload_namespace`, and the destination's own ID `destination_principal`. Metric handles are cached per label combination, so a request costs one
/// dictionary lookup under a lock, not a registry lookup.
final class IstioMetrics: Sendable {
    /// Istio's default buckets for `istio_request_duration_milliseconds`.
    static let durationBuckets: [Double] = [
        0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
    ]
    /// Istio's default buckets for the byte-size histograms (1 to 10^8).
    static let sizeBuckets: [Double] = (0...8).map { pow10($0) }

    private struct SeriesKey: Hashable {
        /// The destination (or, for requests that reach no function, the mesh policy) whose
        /// telemetry policy made the series' labels.
        var owner: ObjectIdentifier?
        var responseCode: Int
        var flags: UInt16
        /// `grpc_response_status` and `request_protocol`: -1 for plain HTTP, -2 for a call with no status.
        var grpc: Int8
        /// The mutual TLS caller's SPIFFE ID; nil over plaintext.
        var peer: String?
        /// What tag overrides read from the request, in `MetricsPolicy` order; empty when none does.
        var overrideValues: [String]
    }

    private struct Series: Sendable {
        /// Held so that the owner's `ObjectIdentifier` in the key cannot be reused by another object.
        let owner: (any AnyObject & Sendable)?
        /// nil: the metric is disabled for this workload (Telemetry `metrics.overrides`).
        let requests: Counter?
        let duration: ValueHistogram?
        let requestBytes: ValueHistogram?
        let responseBytes: ValueHistogram?
    }

    private let registry: PrometheusCollectorRegistry
    private let series = NIOLockedValueBox<[SeriesKey: Series]>([:])
    /// Series whose labels come from the request (Telemetry `tagOverrides` UPSERT of a header, the
    /// path, …): past `maxRequestDerivedSeries` of them, new values are recorded as `other`, so a
    /// caller cannot grow `/metrics` and memory without bound.
    private let requestDerived = NIOLockedValueBox(0)
    static let maxRequestDerivedSeries = 1_000
    /// Longest label value taken from a request, in bytes.
    static let maxTagValueBytes = 256

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// Records the finished request under `policy` (its destination's, or the mesh's for a request
    /// that reached no function, then `owner` is the object that holds that policy).
    func record(_ record: RequestRecord, policy: MetricsPolicy, owner: (any AnyObject & Sendable)?) {
        guard policy.disabled.count < IstioMetric.allCases.count else { return }
        let owner: (any AnyObject & Sendable)? = record.destination.map { $0 as any AnyObject & Sendable } ?? owner
        var key = SeriesKey(
            owner: owner.map(ObjectIdentifier.init), responseCode: record.responseCode,
            flags: record.responseFlags.rawValue, grpc: record.isGRPC ? Int8(record.grpcStatus ?? -2) : -1, peer: record.peer?.uri,
            overrideValues: policy.readsRequest ? Self.overrideValues(policy, record, overflow: false) : [])
        let series = self.series.withLockedValue { cache in
            if let existing = cache[key] { return existing }
            var overflow = false
            if !key.overrideValues.isEmpty {
                overflow = requestDerived.withLockedValue { count in
                    guard count < Self.maxRequestDerivedSeries else { return true }
                    count += 1
                    return false
                }
                if overflow {
                    key.overrideValues = Self.overrideValues(policy, record, overflow: true)
                    if let existing = cache[key] { return existing }
                }
            }
            let made = makeSeries(for: record, policy: policy, owner: owner, overflow: overflow)
            cache[key] = made
            return made
        }
        series.requests?.increment()
        series.duration?.record(Double((record.duration ?? .zero).nanosecondsClamped) / 1e6)
        series.requestBytes?.record(Double(record.bytesReceived))
        series.responseBytes?.record(Double(record.bytesSent))
    }

    private func makeSeries(for record: RequestRecord, policy: MetricsPolicy, owner: (any AnyObject & Sendable)?, overflow: Bool) -> Series {
        let standard = Self.labels(for: record)
        func labels(_ metric: IstioMetric) -> [(String, String)]? {
            guard policy.records(metric) else { return nil }
            return Self.applying(policy.tagOverrides[metric] ?? [], to: standard, record: record, overflow: overflow)
        }
        return Series(
            owner: owner,
            requests: labels(.requestCount).map { labels in registry.makeCounter(
                    descriptor: .named("istio_requests_total", help: "Requests handled, by source, destination, response code and response flags (Istio standard metric)."), labels: labels) },
            duration: labels(.requestDuration).map { labels in registry.makeValueHistogram(
                    descriptor: .named("istio_request_duration_milliseconds", help: "Time from the first request byte to the last response byte, in milliseconds (Istio standard metric)."), labels: labels, buckets: Self.durationBuckets) },
            requestBytes: labels(.requestSize).map { labels in registry.makeValueHistogram(
                    descriptor: .named("istio_request_bytes", help: "Request body sizes in bytes (Istio standard metric)."), labels: labels, buckets: Self.sizeBuckets) },
            responseBytes: labels(.responseSize).map { labels in registry.makeValueHistogram(
                    descriptor: .named("istio_response_bytes", help: "Response body sizes in bytes (Istio standard metric)."), labels: labels, buckets: Self.sizeBuckets) })
    }

    /// Telemetry `tagOverrides`: REMOVE drops the label (swift-prometheus keys each series by its
    /// whole label set, so series of one metric may carry different label names, which Prometheus
    /// allows); UPSERT replaces its value, or adds the label at the end.
    static func applying(
        _ overrides: [TagOverride], to standard: [(String, String)], record: RequestRecord, overflow: Bool = false
    ) -> [(String, String)] {
        guard !overrides.isEmpty else { return standard }
        var labels = standard
        for override in overrides {
            switch override.operation {
            case .remove:
                labels.removeAll { $0.0 == override.name }
            case .upsert(let operand):
                let value = tagValue(operand, record, overflow: overflow)
                if let index = labels.firstIndex(where: { $0.0 == override.name }) {
                    labels[index].1 = value
                } else {
                    labels.append((override.name, value))
                }
            }
        }
        // A family cannot mix labelled and unlabelled series: with every label removed, keep the reporter.
        return labels.isEmpty ? [("reporter", "destination")] : labels
    }

    /// An UPSERT's value for this request; `unknown` when the request lacks it (as Istio fills labels),
    /// `other` past the bound on request-derived series, cut to `maxTagValueBytes`.
    private static func tagValue(_ operand: TelemetryOperand, _ record: RequestRecord, overflow: Bool = false) -> String {
        if overflow, case .attribute = operand { return "other" }
        let value = operand.value(of: record, headers: record.extensions[TelemetryHeaders.self])?.text ?? "unknown"
        guard value.utf8.count > maxTagValueBytes else { return value }
        var cut = value.utf8.prefix(maxTagValueBytes)
        while !cut.isEmpty, String(cut) == nil { cut = cut.dropLast() }  // on a character boundary
        return String(cut) ?? ""
    }

    private static func overrideValues(_ policy: MetricsPolicy, _ record: RequestRecord, overflow: Bool) -> [String] {
        var values: [String] = []
        for metric in IstioMetric.allCases {
            for override in policy.tagOverrides[metric] ?? [] {
                if case .upsert(let operand) = override.operation, case .attribute = operand {
                    values.append(tagValue(operand, record, overflow: overflow))
                }
            }
        }
        return values
    }

    /// Istio's standard labels, in the order Istio's docs list them.
    ///
    /// The canonical service and revision come from the labels Istio reads on a workload
    /// (`service.istio.io/canonical-name`, then `app.kubernetes.io/name`, then `app`; the revision
    /// likewise from `…/canonical-revision`, `app.kubernetes.io/version`, `version`, else `latest`).
    static func labels(for record: RequestRecord) -> [(String, String)] {
        let unknown = "unknown"
        let spec = record.destination?.spec
        let labels = spec?.labels ?? [:]
        let canonicalService = labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"]
            ?? labels["app"] ?? spec?.name
        let canonicalRevision = labels["service.istio.io/canonical-revision"] ?? labels["app.kubernetes.io/version"]
            ?? labels["version"] ?? (spec == nil ? nil : "latest")
        let peer = record.peer
        // Only a mesh identity has a namespace; a partner's `/ns/X` is not one of the mesh's.
        let sourceNamespace = peer?.principal.flatMap { principal -> String? in
            let parts = principal.split(separator: "/")
            guard let index = parts.firstIndex(of: "ns"), index + 1 < parts.count else { return nil }
            return String(parts[index + 1])
        }
        return [
            ("reporter", "destination"),
            ("source_workload", unknown),
            ("source_canonical_service", unknown),
            ("source_canonical_revision", unknown),
            ("source_workload_namespace", sourceNamespace ?? unknown),
            ("source_principal", peer?.uri ?? unknown),
            ("source_app", unknown),
            ("source_version", unknown),
            ("source_cluster", unknown),
            ("destination_workload", spec?.name ?? unknown),
            ("destination_workload_namespace", spec?.namespace ?? unknown),
            ("destination_principal", peer == nil ? unknown : record.destination?.identity ?? unknown),
            ("destination_app", labels["app"] ?? unknown),
            ("destination_version", labels["version"] ?? unknown),
            ("destination_service", record.destination?.serviceHost ?? unknown),
            ("destination_canonical_service", canonicalService ?? unknown),
            ("destination_canonical_revision", canonicalRevision ?? unknown),
            ("destination_service_name", spec?.name ?? unknown),
            ("destination_service_namespace", spec?.namespace ?? unknown),
            ("destination_cluster", unknown),
            ("request_protocol", record.isGRPC ? "grpc" : "http"),
            ("response_code", String(record.responseCode)),
            ("grpc_response_status", record.grpcStatus.map(String.init) ?? ""),
            ("response_flags", record.responseFlags.description),
            ("connection_security_policy", peer == nil ? "none" : "mutual_tls"),
        ]
    }

    private static func pow10(_ exponent: Int) -> Double {
        (0..<exponent).reduce(1.0) { value, _ in value * 10 }
    }
}
