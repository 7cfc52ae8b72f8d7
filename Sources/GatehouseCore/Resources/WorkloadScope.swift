/// Istio's scoping of security policies (AuthorizationPolicy, RequestAuthentication): a policy in
/// the root namespace applies mesh-wide (to the functions its selector picks, if it has one); any
/// other applies in its own namespace, to every function, to those whose labels include its
/// selector's, or to those its `targetRefs` name.
public enum WorkloadScope {
    public static func applies(
        namespace: String, selector: [String: String]?, targetNames: [String], to function: FunctionSpec,
        rootNamespace: String
    ) -> Bool {
        guard namespace == rootNamespace || namespace == function.namespace else { return false }
        if !targetNames.isEmpty { return namespace == function.namespace && targetNames.contains(function.name) }
        guard let selector else { return true }
        return selector.allSatisfy { function.labels[$0.key] == $0.value }
    }
}
