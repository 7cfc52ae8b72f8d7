import Foundation
import GatehouseCore

/// Reads Knative's `Destination` (`subscriber`, `sink`, `deadLetterSink`): a `ref` to a Function
/// (or a Knative or Kubernetes `Service` of the same name, read as the Function), a `ref` with a
/// relative `uri` (a path on that Function), or an absolute `http(s)` `uri` on a host Gatehouse
/// serves. A PingSource's sink may also be a Broker.
enum EventDestinationDecoder {
    enum Decoded: Hashable {
        case destination(EventDestination)
        case broker(namespace: String, name: String)
    }

    /// What a Function reference may be written as.
    static let functionKinds: [(apiVersion: String, kind: String)] = [
        ("gatehouse.dev/v1", "Function"), ("serving.knative.dev/v1", "Service"), ("v1", "Service"),
    ]

    static func decode(_ value: YAMLValue, namespace: String, allowingBroker: Bool = false, notices: inout [String]) -> Decoded? {
        guard let destination = value.mapping() else { return nil }
        defer { destination.reportUnknownKeys() }
        let reference = destination.field("ref")
        let uriValue = destination.field("uri")
        // Knative's TLS and OIDC settings for reaching the sink: Gatehouse calls it in-process,
        // as its own mesh identity.
        for key in ["CACerts", "audience"] where destination.field(key) != nil {
            notices.append("\(destination.fieldPath(key)) ignored: Gatehouse calls the sink in-process with its mesh identity")
        }
        let example = "write `ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: NAME}`"
        guard reference != nil || uriValue != nil else {
            value.report("needs `ref` or `uri`", fix: example)
            return nil
        }
        let uri = uriValue.flatMap { $0.string() }
        guard let reference else {
            guard let uriValue, let uri else { return nil }
            return absolute(uri, value: uriValue).map { .destination(EventDestination(.uri(host: $0.host, path: $0.path))) }
        }
        guard let target = self.reference(reference, namespace: namespace, allowingBroker: allowingBroker) else { return nil }
        var path = "/"
        if let uriValue, let uri {
            guard let relative = relative(uri, value: uriValue) else { return nil }
            path = relative
        }
        switch target {
        case .broker(let brokerNamespace, let name):
            if uriValue != nil {
                uriValue?.report("a Broker sink takes no `uri`", fix: "remove `uri`")
                return nil
            }
            return .broker(namespace: brokerNamespace, name: name)
        case .destination(let destination):
            guard case .function(let functionNamespace, let name, _) = destination.target else { return nil }
            return .destination(EventDestination(.function(namespace: functionNamespace, name: name, path: path)))
        }
    }

    private static func reference(_ value: YAMLValue, namespace: String, allowingBroker: Bool) -> Decoded? {
        guard let reference = value.mapping() else { return nil }
        defer { reference.reportUnknownKeys() }
        let kind = reference.required("kind", fix: "add `kind: Function`")?.string()
        let name = reference.required("name", fix: "add `name:` with the function's name")?.string()
        let apiVersionValue = reference.field("apiVersion")
        let apiVersion = apiVersionValue?.string()
        let group = reference.field("group")?.string()
        let namespaceValue = reference.field("namespace")
        let refNamespace = namespaceValue?.string() ?? namespace
        reference.ignore(["address"])
        guard let kind, let name else { return nil }
        if apiVersion == nil, group == nil {
            reference.diagnostics.report(
                at: reference.location, field: reference.fieldPath("apiVersion"), "missing required field `apiVersion`",
                fix: kind == "Broker" ? "add `apiVersion: eventing.knative.dev/v1`" : "add `apiVersion: gatehouse.dev/v1`")
            return nil
        }
        // As Knative without its cross-namespace feature: a sink lives beside what names it.
        if let namespaceValue, refNamespace != namespace {
            namespaceValue.report(
                "must be the resource's own namespace (\"\(namespace)\")", fix: "remove `namespace`, or move the resource to \"\(refNamespace)\"")
            return nil
        }
        let groupOf = apiVersion.map { ResourceKey.group(ofAPIVersion: $0) } ?? group ?? ""
        let isFunction = functionKinds.contains { kind == $0.kind && (apiVersion == $0.apiVersion || (apiVersion == nil && groupOf == ResourceKey.group(ofAPIVersion: $0.apiVersion))) }
        if isFunction { return .destination(EventDestination(.function(namespace: namespace, name: name, path: "/"))) }
        if kind == "Broker", groupOf == "eventing.knative.dev" {
            guard allowingBroker else {
                reference.diagnostics.report(
                    at: reference.location, field: reference.fieldPath("kind"), "a Broker cannot be a subscriber or dead-letter sink here",
                    fix: "name a Function (`kind: Function`, `apiVersion: gatehouse.dev/v1`)")
                return nil
            }
            return .broker(namespace: namespace, name: name)
        }
        let what = [apiVersion ?? group, kind].compactMap { $0 }.joined(separator: " ")
        reference.diagnostics.report(
            at: reference.location, field: reference.fieldPath("kind"),
            "Gatehouse delivers events to Functions\(allowingBroker ? " and Brokers" : ""), not \(what)",
            fix: "write `apiVersion: gatehouse.dev/v1` and `kind: Function` (a serving.knative.dev/v1 Service of the same name works too)")
        return nil
    }

    /// `ref` + `uri`: a path on the referenced function (Knative resolves it against the ref's URL).
    private static func relative(_ uri: String, value: YAMLValue) -> String? {
        guard let components = URLComponents(string: uri), components.scheme == nil, components.host == nil, components.fragment == nil else {
            value.report("with `ref`, `uri` must be a relative path such as /events", fix: "write a path, or drop `ref` and give an absolute http:// URL")
            return nil
        }
        let path = components.percentEncodedPath
        let query = components.percentEncodedQuery.map { "?\($0)" } ?? ""
        return (path.hasPrefix("/") ? path : "/" + path) + query
    }

    /// A `uri` alone: absolute http(s), with a host; its port does not matter (Gatehouse routes by host).
    private static func absolute(_ uri: String, value: YAMLValue) -> (host: String, path: String)? {
        let fix = "write `uri: http://NAME.NAMESPACE.<domain>/path` (a host Gatehouse serves), or use `ref:` to a Function"
        guard let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased() else {
            value.report("\"\(uri)\" is not an absolute URL", fix: fix)
            return nil
        }
        guard scheme == "http" || scheme == "https" else {
            value.report("scheme \"\(scheme)\" is not http or https", fix: fix)
            return nil
        }
        guard let host = components.host, !host.isEmpty else {
            value.report("\"\(uri)\" has no host", fix: fix)
            return nil
        }
        guard components.user == nil, components.password == nil, components.fragment == nil else {
            value.report("\"\(uri)\" has user information or a fragment, which a sink URL cannot carry", fix: "remove them")
            return nil
        }
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        return (host.lowercased(), path + (components.percentEncodedQuery.map { "?\($0)" } ?? ""))
    }
}
