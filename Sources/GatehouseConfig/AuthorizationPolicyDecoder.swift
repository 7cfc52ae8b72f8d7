import GatehouseCore

/// Decodes an Istio `AuthorizationPolicy` spec with Istio's validation: known fields only, valid
/// actions, addresses and ports, known `when` keys, `values` or `notValues` in every condition,
/// `selector` and `targetRefs` not both, path templates Istio accepts (`PathTemplateRules`).
enum AuthorizationPolicyDecoder {
    static let sourceFields = ["principals", "requestPrincipals", "namespaces", "serviceAccounts", "ipBlocks", "remoteIpBlocks"]
    static let operationFields = ["hosts", "ports", "methods", "paths"]

    static func decode(_ envelope: DocumentEnvelope) -> AuthorizationPolicySpec {
        var policy = AuthorizationPolicySpec(
            namespace: envelope.namespace, name: envelope.name, dryRun: envelope.annotations["istio.io/dry-run"] == "true",
            source: envelope.location)
        guard let spec = envelope.root.field("spec")?.mapping() else { return policy }
        defer { spec.reportUnknownKeys() }

        (policy.selector, policy.targetNames) = PolicyScopeDecoder.decode(spec)
        if let action = spec.field("action")?.oneOf(
            AuthorizationPolicySpec.Action.self, what: "action", key: "action", otherwise: "write ALLOW, DENY, AUDIT or CUSTOM") {
            policy.action = action
        }
        if let field = spec.field("provider"), let provider = field.mapping() {
            if policy.action != .custom {
                field.report("`provider` is only for CUSTOM policies", fix: "remove it, or write `action: CUSTOM`")
            }
            policy.provider = provider.required("name", fix: "add `name:` naming one of the Mesh's extensionProviders")?.string()
            provider.reportUnknownKeys()
        } else if policy.action == .custom {
            spec.diagnostics.report(
                at: spec.location, field: spec.fieldPath("provider"), "a CUSTOM policy needs a provider",
                fix: "add `provider: {name: …}` naming one of the Mesh's extensionProviders")
        }
        for rule in spec.field("rules")?.sequence() ?? [] {
            if let decoded = decodeRule(rule) { policy.rules.append(decoded) }
        }
        return policy
    }

    private static func decodeRule(_ value: YAMLValue) -> AuthorizationPolicySpec.Rule? {
        guard let rule = value.mapping() else { return nil }
        defer { rule.reportUnknownKeys() }
        var decoded = AuthorizationPolicySpec.Rule()
        // As Istio's validation: an empty list, source or operation would match anything, which is
        // rarely what was meant (a template that rendered no principals, say).
        for key in ["from", "to"] {
            if let list = rule.field(key), list.sequence()?.isEmpty == true {
                list.report("must not be empty", fix: "remove `\(key)` to match any \(key == "from" ? "source" : "operation"), or list at least one")
            }
        }
        for entry in rule.field("from")?.sequence() ?? [] {
            guard let from = entry.mapping() else { continue }
            if let value = from.required("source", fix: "add `source:` with principals, namespaces, ipBlocks, …"),
               let source = value.mapping() {
                let decodedSource = decodeSource(source)
                if source.mapping.isEmpty {
                    value.report("must not be empty", fix: "name at least one of \(sourceFields.joined(separator: ", ")) (or their not forms)")
                }
                decoded.from.append(decodedSource)
            }
            from.reportUnknownKeys()
        }
        for entry in rule.field("to")?.sequence() ?? [] {
            guard let to = entry.mapping() else { continue }
            if let value = to.required("operation", fix: "add `operation:` with methods, paths, hosts or ports"),
               let operation = value.mapping() {
                let decodedOperation = decodeOperation(operation)
                if operation.mapping.isEmpty {
                    value.report("must not be empty", fix: "name at least one of \(operationFields.joined(separator: ", ")) (or their not forms)")
                }
                decoded.to.append(decodedOperation)
            }
            to.reportUnknownKeys()
        }
        for entry in rule.field("when")?.sequence() ?? [] {
            if let condition = decodeCondition(entry) { decoded.when.append(condition) }
        }
        return decoded
    }

    private static func decodeSource(_ source: YAMLMappingReader) -> AuthorizationPolicySpec.Source {
        defer { source.reportUnknownKeys() }
        var decoded = AuthorizationPolicySpec.Source()
        decoded.principals = match(source, "principals")
        decoded.requestPrincipals = match(source, "requestPrincipals")
        decoded.namespaces = match(source, "namespaces")
        decoded.serviceAccounts = match(source, "serviceAccounts")
        decoded.ipBlocks = match(source, "ipBlocks", check: checkAddress)
        decoded.remoteIpBlocks = match(source, "remoteIpBlocks", check: checkAddress)
        return decoded
    }

    private static func decodeOperation(_ operation: YAMLMappingReader) -> AuthorizationPolicySpec.Operation {
        defer { operation.reportUnknownKeys() }
        var decoded = AuthorizationPolicySpec.Operation()
        decoded.hosts = match(operation, "hosts")
        decoded.ports = match(operation, "ports", check: checkPort)
        decoded.methods = match(operation, "methods")
        decoded.paths = match(operation, "paths", check: checkPath)
        return decoded
    }

    private static func decodeCondition(_ value: YAMLValue) -> AuthorizationPolicySpec.Condition? {
        guard let condition = value.mapping() else { return nil }
        defer { condition.reportUnknownKeys() }
        guard let keyValue = condition.required("key", fix: "add `key:`, e.g. `request.headers[x-team]`"),
              let key = keyValue.string() else { return nil }
        let base = key.firstIndex(of: "[").map { String(key[..<$0]) } ?? key
        let bracketed = base != key
        let takesName = base == "request.headers" || base == "request.auth.claims"
        guard AuthorizationPolicySpec.conditionKeys.contains(base), bracketed == takesName,
              !bracketed || (key.hasSuffix("]") && key.count > base.count + 2) else {
            let suggestion = Spelling.suggestion(for: base, among: AuthorizationPolicySpec.conditionKeys)
            let allowed = AuthorizationPolicySpec.conditionKeys.map { name in
                name == "request.headers" || name == "request.auth.claims" ? name + "[NAME]" : name
            }
            keyValue.report(
                "unknown condition key \"\(key)\"; allowed: \(allowed.joined(separator: ", "))",
                fix: suggestion.map { "did you mean `\($0)`?" } ?? "use one of the keys Istio documents")
            return nil
        }
        let isAddress = ["source.ip", "remote.ip", "destination.ip"].contains(key)
        let check: ((YAMLValue, String) -> Void)? = isAddress ? { checkAddress($0, $1) } : nil
        let values = match(condition, "values", notKey: "notValues", check: check)
        if values.isEmpty {
            condition.diagnostics.report(
                at: condition.location, field: condition.fieldPath("values"), "a condition needs `values` or `notValues`",
                fix: "add `values: [\"…\"]`")
        }
        return AuthorizationPolicySpec.Condition(key: key, match: values)
    }

    /// A field and its `not` form (`paths` / `notPaths`), each a list of strings.
    private static func match(
        _ mapping: YAMLMappingReader, _ key: String, notKey: String? = nil, check: ((YAMLValue, String) -> Void)? = nil
    ) -> AuthorizationPolicySpec.Match {
        let notKey = notKey ?? "not" + key.prefix(1).uppercased() + key.dropFirst()
        func list(_ key: String) -> [String] {
            guard let value = mapping.field(key), let elements = value.sequence() else { return [] }
            return elements.compactMap { element in
                guard let text = element.string() else { return nil }
                check?(element, text)
                return text
            }
        }
        return AuthorizationPolicySpec.Match(list(key), not: list(notKey))
    }

    private static func checkAddress(_ value: YAMLValue, _ text: String) {
        if IPBlock(text) == nil {
            value.report("\"\(text)\" is not an IP address or CIDR range", fix: "write e.g. \"10.0.0.0/8\" or \"192.0.2.7\"")
        }
    }

    private static func checkPath(_ value: YAMLValue, _ text: String) {
        if let problem = PathTemplateRules.problem(in: text) { value.report(problem.message, fix: problem.fix) }
    }

    private static func checkPort(_ value: YAMLValue, _ text: String) {
        guard let port = Int(text), (1...65535).contains(port) else {
            value.report("\"\(text)\" is not a port", fix: "write a port number between 1 and 65535, e.g. \"8080\"")
            return
        }
    }
}
