import GatehouseCore

/// Decodes an Istio `DestinationRule` with Istio's validation of `trafficPolicy.tls`: a known mode,
/// client certificate and key together (or a `credentialName`) for MUTUAL, none of them for
/// ISTIO_MUTUAL. Subsets select revisions by label. The traffic policy fields Gatehouse does not
/// enforce yet are read, and named in `unenforced` so the apply says so instead of failing.
enum DestinationRuleDecoder {
    static let unenforcedPolicyFields = ["loadBalancer", "portLevelSettings", "tunnel", "proxyProtocol"]

    static func decode(_ envelope: DocumentEnvelope) -> (rule: DestinationRuleSpec, unenforced: [String]) {
        var rule = DestinationRuleSpec(namespace: envelope.namespace, name: envelope.name, host: "", source: envelope.location)
        var unenforced: [String] = []
        guard let spec = envelope.root.required("spec", fix: "add `spec:` with `host:` and `trafficPolicy:`")?.mapping() else {
            return (rule, unenforced)
        }
        defer { spec.reportUnknownKeys() }
        if let value = spec.required("host", fix: "add `host:` naming the function, e.g. `host: hello`"), let host = value.string() {
            if host.isEmpty || host.contains("*") {
                value.report("must name one function (wildcards are not supported)", fix: "write the function's name, e.g. `host: hello`")
            }
            rule.host = host
        }
        for name in ["exportTo", "workloadSelector"] where spec.field(name) != nil { unenforced.append(name) }
        if let policy = spec.field("trafficPolicy")?.mapping() {
            defer { policy.reportUnknownKeys() }
            for name in unenforcedPolicyFields where policy.field(name) != nil { unenforced.append("trafficPolicy.\(name)") }
            if let tls = policy.field("tls")?.mapping() {
                rule.tls = decodeTLS(tls, directory: envelope.location.directory)
            }
            if let pool = policy.field("connectionPool")?.mapping() {
                rule.connectionPool = decodeConnectionPool(pool)
            }
            if let outlier = policy.field("outlierDetection")?.mapping() {
                rule.outlierDetection = decodeOutlierDetection(outlier)
            }
        }
        for value in spec.field("subsets")?.sequence() ?? [] {
            guard let subset = value.mapping() else { continue }
            if let decoded = decodeSubset(subset, unenforced: &unenforced) {
                if rule.subsets.contains(where: { $0.name == decoded.name }) {
                    subset.field("name")?.report("a second subset named \"\(decoded.name)\"", fix: "give each subset its own name")
                }
                rule.subsets.append(decoded)
            }
        }
        return (rule, unenforced)
    }

    /// A subset: a name, the revision labels it selects, and an optional traffic policy whose
    /// connection pool and outlier detection apply to the revision it selects.
    private static func decodeSubset(_ subset: YAMLMappingReader, unenforced: inout [String]) -> DestinationRuleSpec.Subset? {
        defer { subset.reportUnknownKeys() }
        let name = subset.required("name", fix: "add `name: v1`")?.string()
        let labels = subset.field("labels")?.stringMap() ?? [:]
        if subset.field("labels") == nil, let value = subset.field("name") {
            value.report("a subset needs `labels` to select a revision", fix: "add e.g. `labels: {serving.knative.dev/revision: hello-00001}`")
        }
        guard let name else { return nil }
        var result = DestinationRuleSpec.Subset(name: name, labels: labels, source: subset.location)
        if let policy = subset.field("trafficPolicy")?.mapping() {
            defer { policy.reportUnknownKeys() }
            for field in unenforcedPolicyFields + ["tls"] where policy.field(field) != nil { unenforced.append("subsets.trafficPolicy.\(field)") }
            if let pool = policy.field("connectionPool")?.mapping() { result.connectionPool = decodeConnectionPool(pool) }
            if let outlier = policy.field("outlierDetection")?.mapping() { result.outlierDetection = decodeOutlierDetection(outlier) }
        }
        return result
    }

    private static func decodeOutlierDetection(_ mapping: YAMLMappingReader) -> OutlierDetection {
        defer { mapping.reportUnknownKeys() }
        var result = OutlierDetection()
        func count(_ key: String) -> Int?? {
            guard let value = mapping.field(key), let number = value.int() else { return nil }
            guard number >= 0 else {
                value.report("must be 0 (off) or more", fix: "write e.g. 5")
                return nil
            }
            return .some(number == 0 ? nil : number)
        }
        if let errors = count("consecutive5xxErrors") { result.consecutive5xxErrors = errors }
        if let errors = count("consecutiveGatewayErrors") { result.consecutiveGatewayErrors = errors }
        if let interval = mapping.field("interval")?.positiveDuration() { result.interval = interval }
        if let base = mapping.field("baseEjectionTime")?.positiveDuration() { result.baseEjectionTime = base }
        if let field = mapping.field("maxEjectionPercent"), let percent = field.int() {
            if (0...100).contains(percent) { result.maxEjectionPercent = percent } else { field.report("must be a percentage from 0 to 100", fix: "write e.g. 10") }
        }
        mapping.ignore(["consecutiveErrors", "consecutiveLocalOriginFailures", "splitExternalLocalOriginErrors", "minHealthPercent"])
        return result
    }

    private static func decodeConnectionPool(_ pool: YAMLMappingReader) -> DestinationRuleSpec.ConnectionPool {
        defer { pool.reportUnknownKeys() }
        var result = DestinationRuleSpec.ConnectionPool()
        func positive(_ value: YAMLValue?) -> Int? {
            guard let value, let number = value.int() else { return nil }
            guard number > 0 else {
                value.report("must be at least 1", fix: "write a positive number, or remove the field")
                return nil
            }
            return number
        }
        if let tcp = pool.field("tcp")?.mapping() {
            defer { tcp.reportUnknownKeys() }
            result.maxConnections = positive(tcp.field("maxConnections"))
            tcp.ignore(["connectTimeout", "tcpKeepalive", "maxConnectionDuration", "idleTimeout"])
        }
        if let http = pool.field("http")?.mapping() {
            defer { http.reportUnknownKeys() }
            result.maxPendingRequests = positive(http.field("http1MaxPendingRequests"))
            result.maxRequests = positive(http.field("http2MaxRequests"))
            result.maxRequestsPerConnection = positive(http.field("maxRequestsPerConnection"))
            http.ignore(["maxRetries", "idleTimeout", "h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams"])
        }
        return result
    }

    private static func decodeTLS(_ tls: YAMLMappingReader, directory: String) -> DestinationRuleSpec.ClientTLSSettings? {
        defer { tls.reportUnknownKeys() }
        var settings = DestinationRuleSpec.ClientTLSSettings(mode: .disable)
        if let value = tls.field("mode") {
            guard let mode = value.oneOf(
                DestinationRuleSpec.ClientTLSSettings.Mode.self, what: "TLS mode", key: "mode",
                otherwise: "write SIMPLE, MUTUAL, ISTIO_MUTUAL or DISABLE") else { return nil }
            settings.mode = mode
        }
        func path(_ key: String) -> String? {
            guard let text = tls.field(key)?.string(), !text.isEmpty else { return nil }
            return text.hasPrefix("/") ? text : "\(directory)/\(text)"
        }
        settings.clientCertificate = path("clientCertificate")
        settings.privateKey = path("privateKey")
        settings.caCertificates = path("caCertificates")
        settings.credentialName = tls.field("credentialName")?.string()
        settings.subjectAltNames = tls.field("subjectAltNames")?.stringList() ?? []
        settings.sni = tls.field("sni")?.string()
        settings.insecureSkipVerify = tls.field("insecureSkipVerify")?.bool() ?? false
        tls.ignore(["caCrl"])

        let files = settings.clientCertificate != nil || settings.privateKey != nil
        switch settings.mode {
        case .mutual:
            if settings.credentialName == nil, settings.clientCertificate == nil || settings.privateKey == nil {
                tls.diagnostics.report(
                    at: tls.location, field: tls.fieldPath("mode"), "MUTUAL needs a client certificate and its key",
                    fix: "add `clientCertificate:` and `privateKey:` (PEM files), or `credentialName:`")
            }
        case .istioMutual:
            if files || settings.credentialName != nil {
                tls.diagnostics.report(
                    at: tls.location, field: tls.fieldPath("mode"), "ISTIO_MUTUAL uses the function's own SVID; certificate files are not allowed",
                    fix: "remove clientCertificate/privateKey/credentialName, or use `mode: MUTUAL`")
            }
        case .simple, .disable:
            if files {
                tls.diagnostics.report(
                    at: tls.location, field: tls.fieldPath("clientCertificate"), "a client certificate is only sent with `mode: MUTUAL`",
                    fix: "write `mode: MUTUAL`, or remove clientCertificate/privateKey")
            }
        }
        return settings
    }
}
