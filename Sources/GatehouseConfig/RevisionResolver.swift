import GatehouseCore

/// Resolves Knative's traffic targets and Istio's DestinationRule subsets against a function's
/// stored revisions, deciding which revisions serve — and so which run instances.
///
/// Runs on apply, where the store is known. A config read from files alone cannot tell whether
/// `hello-00003` exists: `lenient` resolution (for `validate`, `explain`, `test`) lets a named
/// revision stand in as the current spec under that name, and a subset that selects nothing fall
/// back to the current spec — the function and its policies are right, a revision's own spec may not be.
public enum RevisionResolver {
    /// Fills `snapshot.routing`. `revisions` holds every stored revision's spec as written (no
    /// DestinationRule applied), keyed by revision; a function's current spec is its newest.
    public static func resolve(
        _ snapshot: inout ConfigSnapshot, revisions: [RevisionKey: FunctionSpec], lenient: Bool = false
    ) throws(ConfigError) {
        var problems: [ConfigDiagnostic] = []
        var routing = RevisionRouting()
        var byFunction: [FunctionKey: [FunctionSpec]] = [:]
        for spec in revisions.values { byFunction[spec.key, default: []].append(spec) }
        let mesh = snapshot.mesh
        // Host labels (`NAME`, `TAG-NAME`) per namespace and who has them: a tag must not take one.
        var labels: [String: String] = [:]
        for function in snapshot.functions { labels["\(function.namespace)/\(function.name)"] = "Function \(function.key)" }
        /// Which subset's traffic policy a revision's pool follows (one revision, one pool).
        var subsetPolicies: [RevisionKey: (name: String, policy: DestinationRuleSpec.Subset)] = [:]

        for current in snapshot.functions {
            let rule = DestinationRuleSpec.rule(for: current, in: snapshot.destinationRules, rootNamespace: mesh.rootNamespace)
            // As written; the current revision's own document stands for itself.
            var written = (byFunction[current.key] ?? []).filter { $0.generation != current.generation }
            written.append(revisions[current.revisionKey] ?? current)
            if lenient {
                for name in current.traffic.compactMap(\.revisionName) where !written.contains(where: { $0.revision == name }) {
                    guard let number = Int(name.dropFirst(current.name.count + 1)), number > 0 else {
                        let location = current.traffic.first { $0.revisionName == name }?.source ?? current.source
                        problems.append(ConfigDiagnostic(
                            location: location ?? SourceLocation(file: "", line: 0, column: 0), field: "spec.traffic.revisionName",
                            message: "\"\(name)\" is not a revision name: revisions are named \(current.name)-00001, \(current.name)-00002, …",
                            fix: "name a revision (`gatehouse get revisions \(current.name)`), or write `latestRevision: true`"))
                        continue
                    }
                    var standIn = current.atGeneration(number)
                    standIn.traffic = []
                    written.append(standIn)
                }
            }
            written.sort { $0.generation < $1.generation }
            func serving(_ revision: FunctionSpec) -> FunctionSpec {
                revision.generation == current.generation ? current : rule?.apply(to: revision) ?? revision
            }

            var shares: [TrafficShare] = []
            for target in current.traffic {
                let location = target.source ?? current.source ?? SourceLocation(file: "", line: 0, column: 0)
                if target.latestRevision {
                    shares.append(TrafficShare(revision: current.revisionKey, percent: target.percent, tag: target.tag, latest: true))
                } else if let name = target.revisionName, let revision = written.first(where: { $0.revision == name }) {
                    shares.append(TrafficShare(revision: revision.revisionKey, percent: target.percent, tag: target.tag))
                } else if let name = target.revisionName, !lenient {
                    let names = written.map(\.revision)
                    problems.append(ConfigDiagnostic(
                        location: location, field: "spec.traffic.revisionName",
                        message: "Function \(current.key) has no revision \"\(name)\"; it has \(names.joined(separator: ", "))",
                        fix: Spelling.suggestion(for: name, among: names).map { "did you mean \"\($0)\"?" }
                            ?? "name one of its revisions (`gatehouse get revisions \(current.name)`), or write `latestRevision: true`"))
                }
                if let tag = target.tag {
                    let label = "\(tag)-\(current.name)"
                    if label.count > 63 {
                        problems.append(ConfigDiagnostic(
                            location: location, field: "spec.traffic.tag",
                            message: "tag \"\(tag)\" makes the host label \"\(label)\", longer than 63 characters", fix: "choose a shorter tag"))
                    } else if let owner = labels["\(current.namespace)/\(label)"] {
                        problems.append(ConfigDiagnostic(
                            location: location, field: "spec.traffic.tag",
                            message: "tag \"\(tag)\" would give \(current.name) the host \(label).\(current.namespace), which \(owner) has",
                            fix: "choose another tag"))
                    } else {
                        labels["\(current.namespace)/\(label)"] = "tag \(tag) of \(current.key)"
                    }
                }
            }
            if current.traffic.isEmpty { shares = [TrafficShare(revision: current.revisionKey, percent: 100, latest: true)] }
            routing.traffic[current.key] = shares
            for share in shares where share.percent > 0 || share.tag != nil {
                if let revision = written.first(where: { $0.revisionKey == share.revision }) { routing.serving[share.revision] = serving(revision) }
            }

            for (service, route, subset) in subsetReferences(in: snapshot, to: current) {
                let location = route.source ?? service.source ?? SourceLocation(file: "", line: 0, column: 0)
                guard let rule, let definition = rule.subsets.first(where: { $0.name == subset }) else {
                    problems.append(ConfigDiagnostic(
                        location: location, field: "spec.http.route.destination.subset",
                        message: "VirtualService \(service.reference) routes to subset \"\(subset)\" of \(current.name), which "
                            + (rule.map { "DestinationRule \($0.reference) does not define" } ?? "no DestinationRule defines"),
                        fix: rule.flatMap { rule in Spelling.suggestion(for: subset, among: rule.subsets.map(\.name)).map { "did you mean \"\($0)\"?" } }
                            ?? "add `subsets: [{name: \(subset), labels: {serving.knative.dev/revision: \(current.revision)}}]` to a DestinationRule with `host: \(current.name)`"))
                    continue
                }
                let selected = written.last(where: definition.selects)
                guard let chosen = selected ?? (lenient ? current : nil) else {
                    problems.append(ConfigDiagnostic(
                        location: definition.source ?? rule.source ?? location, field: "spec.subsets.labels",
                        message: "subset \"\(subset)\" of DestinationRule \(rule.reference) selects no revision of \(current.name) (revisions: \(written.map(\.revision).joined(separator: ", ")))",
                        fix: "select one by `serving.knative.dev/revision: \(current.revision)`, or by a label the Function has"))
                    continue
                }
                let key = SubsetKey(function: current.key, subset: subset)
                guard routing.subsets[key] == nil else { continue }
                routing.subsets[key] = chosen.revisionKey
                // The subset's own traffic policy replaces the rule's for the revision it selects —
                // for all of that revision's traffic: one revision has one pool.
                // (A lenient stand-in is not a real selection: no conflict can be told.)
                let hasPolicy = definition.connectionPool != nil || definition.outlierDetection != nil
                if hasPolicy, selected != nil, let other = subsetPolicies[chosen.revisionKey],
                   (other.policy.connectionPool, other.policy.outlierDetection) != (definition.connectionPool, definition.outlierDetection) {
                    problems.append(ConfigDiagnostic(
                        location: definition.source ?? rule.source ?? location, field: "spec.subsets.trafficPolicy",
                        message: "subsets \"\(other.name)\" and \"\(subset)\" both select \(chosen.revision) with different traffic policies; a revision has one pool",
                        fix: "give them the same trafficPolicy, or select different revisions"))
                }
                if hasPolicy, subsetPolicies[chosen.revisionKey] == nil { subsetPolicies[chosen.revisionKey] = (subset, definition) }
                var spec = hasPolicy ? rule.apply(to: chosen, subset: definition) : serving(chosen)
                if chosen.generation == current.generation { spec.traffic = current.traffic }
                if hasPolicy || routing.serving[chosen.revisionKey] == nil { routing.serving[chosen.revisionKey] = spec }
            }
        }
        guard problems.isEmpty else { throw ConfigError(diagnostics: problems) }
        snapshot.routing = routing
    }

    /// Every `(VirtualService, route, subset)` whose destination or mirror names a subset of `function`.
    private static func subsetReferences(
        in snapshot: ConfigSnapshot, to function: FunctionSpec
    ) -> [(VirtualServiceSpec, VirtualServiceSpec.HTTPRoute, String)] {
        var references: [(VirtualServiceSpec, VirtualServiceSpec.HTTPRoute, String)] = []
        for service in snapshot.virtualServices {
            for route in service.http {
                for destination in route.destinations + route.mirrors.map(\.destination) {
                    guard let subset = destination.subset, function.isNamed(by: destination.host, in: service.namespace) else { continue }
                    references.append((service, route, subset))
                }
            }
        }
        return references
    }
}
