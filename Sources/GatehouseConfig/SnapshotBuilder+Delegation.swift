import GatehouseCore

extension SnapshotBuilder {
    /// A DelegationPolicy whose `targetRefs` name a function that does not exist grants nothing for
    /// it. Like AuthorizationPolicy and LoginPolicy (and Istio), that is not an error — the function
    /// may come later, or be deleted first — but the apply says so, with a near spelling.
    func delegationNotices() -> [ConfigNotice] {
        var notices: [ConfigNotice] = []
        for policy in delegationPolicies {
            let names = functions.filter { $0.namespace == policy.namespace }.map(\.name)
                + brokers.filter { $0.namespace == policy.namespace }.map { FunctionSpec.brokerIngressName($0.name) }
            for target in policy.functions where !names.contains(target) {
                let suggestion = Spelling.suggestion(for: target, among: names).map { " (did you mean \"\($0)\"?)" } ?? ""
                notices.append(ConfigNotice(
                    location: policy.source ?? SourceLocation(file: "", line: 0, column: 0),
                    message: "DelegationPolicy \(policy.reference): targetRefs names \"\(target)\", which is not a function in namespace \(policy.namespace)\(suggestion); no exchange is allowed for it until it is"))
            }
        }
        return notices
    }
}
