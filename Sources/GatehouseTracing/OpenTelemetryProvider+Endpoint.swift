import GatehouseCore

extension OpenTelemetryProvider {
    /// Where spans are posted: Istio's provider names a service and port, and `http.path`.
    var endpoint: String {
        let host = service.contains(":") && !service.hasPrefix("[") ? "[\(service)]" : service
        let path = path.hasPrefix("/") ? path : "/" + path
        return "http://\(host):\(port)\(path)"
    }
}
