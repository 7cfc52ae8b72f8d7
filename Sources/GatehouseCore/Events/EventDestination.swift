/// Where events go: Knative's `Destination` (`subscriber`, `sink`, `deadLetterSink`) — a `ref` to a
/// Function (a `serving.knative.dev/v1` `Service` of the same name is read as the Function), or a
/// `uri` of a host Gatehouse serves. Resolved to a request Gatehouse makes in-process.
public struct EventDestination: Sendable, Hashable {
    public enum Target: Sendable, Hashable {
        /// A Function by namespace and name; `path` from `uri` when both are given (Knative's
        /// `ref` + relative `uri`), else `/`.
        case function(namespace: String, name: String, path: String)
        /// An absolute `http://HOST[:PORT]/PATH` whose host Gatehouse serves (a function's
        /// `NAME.NAMESPACE.<domain>`, a VirtualService host); sent through the same stages.
        case uri(host: String, path: String)
    }

    public var target: Target

    public init(_ target: Target) { self.target = target }

    /// Said in `describe` and the dead-letter extension `knativeerrordest`.
    public var description: String {
        switch target {
        case .function(let namespace, let name, let path): "Function \(namespace)/\(name)" + (path == "/" ? "" : " \(path)")
        case .uri(let host, let path): "http://\(host)\(path)"
        }
    }
}
