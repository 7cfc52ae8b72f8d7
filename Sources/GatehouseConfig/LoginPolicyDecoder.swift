import GatehouseCore

/// Decodes a `gatehouse.dev/v1` `LoginPolicy` strictly: a scope (`selector` or `targetRefs`, as
/// Istio's policies), `provider` naming an `oidc` extension provider of the Mesh (checked once the
/// whole config is read), an optional `sessionLifetime` between 5 minutes and 30 days.
enum LoginPolicyDecoder {
    static func decode(_ envelope: DocumentEnvelope) -> LoginPolicySpec {
        var policy = LoginPolicySpec(namespace: envelope.namespace, name: envelope.name, source: envelope.location)
        defer { envelope.root.reportUnknownKeys() }
        guard let spec = envelope.root.required("spec", fix: "add `spec:` with `provider:` and `targetRefs:` or `selector:`")?.mapping() else {
            return policy
        }
        defer { spec.reportUnknownKeys() }
        (policy.selector, policy.functions) = PolicyScopeDecoder.decode(spec)
        if let provider = spec.required("provider", fix: "add `provider: NAME`, an `oidc` entry of the Mesh's `extensionProviders`")?.string() {
            policy.provider = provider
        }
        if let field = spec.field("sessionLifetime"), let lifetime = field.positiveDuration() {
            if lifetime < .seconds(300) || lifetime > .seconds(30 * 24 * 3600) {
                field.report("must be between 5m and 720h", fix: "write e.g. \"8h\" (the default)")
            } else {
                policy.sessionLifetime = lifetime
            }
        }
        return policy
    }
}
