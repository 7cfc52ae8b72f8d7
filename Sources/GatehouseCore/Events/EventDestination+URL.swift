extension EventDestination {
    /// The destination as a URL: what `knativeerrordest` says and Knative's `subscriberUri` shows.
    /// A Function is `http://NAME.NAMESPACE.<domain>/PATH`, the host its requests are routed by.
    public func url(domain: String) -> String {
        switch target {
        case .function(let namespace, let name, let path): "http://\(name).\(namespace).\(domain)\(path)"
        case .uri(let host, let path): "http://\(host)\(path)"
        }
    }
}
