import GatehouseCore

/// Decodes an Istio `Gateway` with Istio's validation plus Gatehouse's limits: `HTTPS` servers
/// need `tls` with mode SIMPLE or MUTUAL and credentials (files or `credentialName`); MUTUAL
/// needs CA certificates; ports from 1 to 65535; at least one host per server.
enum GatewayDecoder {
    static func decode(_ envelope: DocumentEnvelope) -> GatewaySpec {
        var gateway = GatewaySpec(namespace: envelope.namespace, name: envelope.name, source: envelope.location)
        guard let spec = envelope.root.required("spec", fix: "add `spec:` with `servers:`")?.mapping() else { return gateway }
        defer { spec.reportUnknownKeys() }
        spec.ignore(["selector"])  // one gateway: every Gateway applies to it
        for value in spec.required("servers", fix: "add `servers:` with a port, hosts and tls")?.sequence() ?? [] {
            if let server = decodeServer(value, directory: envelope.location.directory) { gateway.servers.append(server) }
        }
        return gateway
    }

    private static func decodeServer(_ value: YAMLValue, directory: String) -> GatewaySpec.Server? {
        guard let mapping = value.mapping() else { return nil }
        defer { mapping.reportUnknownKeys() }
        mapping.ignore(["name", "bind", "defaultEndpoint"])
        var server = GatewaySpec.Server(port: 0, protocol: "HTTP", hosts: [])
        if let port = mapping.required("port", fix: "add `port: {number: 8443, name: https, protocol: HTTPS}`")?.mapping() {
            defer { port.reportUnknownKeys() }
            port.ignore(["name", "targetPort"])
            if let number = port.required("number", fix: "add `number: 8443`"), let value = number.int() {
                if (1...65535).contains(value) { server.port = value } else { number.report("\(value) is not a port", fix: "write a port number between 1 and 65535") }
            }
            if let field = port.required("protocol", fix: "add `protocol: HTTPS`"), let text = field.string() {
                let known = ["HTTP", "HTTPS"]
                if known.contains(text.uppercased()) {
                    server.protocol = text.uppercased()
                } else {
                    field.report(
                        "protocol \(text) is not served by Gatehouse's gateway; it serves HTTP and HTTPS",
                        fix: Spelling.suggestion(for: text.uppercased(), among: known).map { "write `protocol: \($0)`" } ?? "write HTTP or HTTPS")
                }
            }
        }
        if let hosts = mapping.required("hosts", fix: "add `hosts: [\"*\"]` (or the hosts this server answers)"), let list = hosts.stringList() {
            if list.isEmpty { hosts.report("must name at least one host", fix: "write `hosts: [\"*\"]` to serve every function") }
            server.hosts = list
        }
        let tlsValue = mapping.field("tls")
        if let tls = tlsValue?.mapping() {
            server.tls = decodeTLS(tls, directory: directory)
            if server.protocol == "HTTP" {
                tlsValue?.report("an HTTP server does not terminate TLS", fix: "write `protocol: HTTPS`, or remove `tls:`")
            }
        } else if server.protocol == "HTTPS" {
            mapping.diagnostics.report(
                at: mapping.location, field: mapping.fieldPath("tls"), "an HTTPS server needs `tls`",
                fix: "add `tls: {mode: SIMPLE, credentialName: NAME}` or serverCertificate/privateKey files")
        }
        return server
    }

    private static func decodeTLS(_ tls: YAMLMappingReader, directory: String) -> GatewaySpec.ServerTLS? {
        defer { tls.reportUnknownKeys() }
        tls.ignore(["minProtocolVersion", "maxProtocolVersion", "cipherSuites", "httpsRedirect"])
        var settings = GatewaySpec.ServerTLS(mode: .simple)
        if let value = tls.field("mode"), let text = value.string() {
            guard let mode = GatewaySpec.ServerTLS.Mode(rawValue: text) else {
                let fix = Spelling.suggestion(for: text, among: GatewaySpec.ServerTLS.Mode.allCases.map(\.rawValue)).map { "write `mode: \($0)`" }
                value.report("TLS mode \(text) is not supported by Gatehouse's gateway; it terminates SIMPLE and MUTUAL", fix: fix ?? "write SIMPLE or MUTUAL")
                return nil
            }
            settings.mode = mode
        }
        func path(_ key: String) -> String? {
            guard let text = tls.field(key)?.string(), !text.isEmpty else { return nil }
            return text.hasPrefix("/") ? text : "\(directory)/\(text)"
        }
        settings.credentialName = tls.field("credentialName")?.string()
        settings.serverCertificate = path("serverCertificate")
        settings.privateKey = path("privateKey")
        settings.caCertificates = path("caCertificates")
        if settings.credentialName == nil, settings.serverCertificate == nil || settings.privateKey == nil {
            tls.diagnostics.report(
                at: tls.location, field: tls.fieldPath("credentialName"), "the server needs a certificate and its key",
                fix: "add `credentialName: NAME` (STATE_DIR/credentials/NAME/tls.crt, tls.key), or `serverCertificate:` and `privateKey:`")
        }
        if settings.mode == .mutual, settings.caCertificates == nil, settings.credentialName == nil {
            tls.diagnostics.report(
                at: tls.location, field: tls.fieldPath("caCertificates"), "MUTUAL needs the CA certificates client certificates are checked against",
                fix: "add `caCertificates: ca.pem` (or a credentialName whose directory has ca.crt)")
        }
        return settings
    }
}
