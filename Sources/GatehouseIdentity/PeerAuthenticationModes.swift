import GatehouseCore

/// Which callers each function accepts, worked out once per config snapshot with Istio's
/// precedence: a workload policy (selector) over the namespace's over the mesh's (root namespace),
/// each `UNSET` inheriting from the next; PERMISSIVE when none says. A workload policy's
/// `portLevelMtls` overrides it for requests arriving on that port. Among several workload policies
/// for one function Istio takes the oldest; Gatehouse, which keeps no creation time, the first by name.
public struct PeerAuthenticationModes: Sendable {
    /// A function's mode, and which policy set it (nil: the PERMISSIVE default).
    public struct Effective: Sendable, Hashable {
        public var mode: PeerAuthenticationSpec.Mode
        public var policy: String?
    }

    private struct FunctionModes: Sendable {
        var base: Effective
        var ports: [Int: Effective]
    }

    private let byFunction: [FunctionKey: FunctionModes]

    public init(policies: [PeerAuthenticationSpec], functions: [FunctionSpec], rootNamespace: String) {
        let ordered = policies.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        let mesh = ordered.first { $0.namespace == rootNamespace && ($0.selector ?? [:]).isEmpty }
        var byFunction: [FunctionKey: FunctionModes] = [:]
        for function in functions {
            let namespace = ordered.first { $0.namespace == function.namespace && ($0.selector ?? [:]).isEmpty }
            // Istio ignores selector policies in the root namespace.
            let workload = ordered.first { policy in
                policy.namespace == function.namespace && policy.namespace != rootNamespace
                    && policy.selector.map { !$0.isEmpty && $0.allSatisfy { function.labels[$0.key] == $0.value } } == true
            }
            var base = Effective(mode: .permissive, policy: nil)
            for level in [mesh, namespace, workload] {
                if let level, level.mode != .unset { base = Effective(mode: level.mode, policy: level.reference) }
            }
            var ports: [Int: Effective] = [:]
            for (port, mode) in workload?.portModes ?? [:] where mode != .unset {
                ports[port] = Effective(mode: mode, policy: workload?.reference)
            }
            if base.policy != nil || !ports.isEmpty { byFunction[function.key] = FunctionModes(base: base, ports: ports) }
        }
        self.byFunction = byFunction
        restrictsAnything = byFunction.values.contains { modes in
            modes.base.mode != .permissive || modes.ports.values.contains { $0.mode != .permissive }
        }
    }

    /// The mode for a request to `function` arriving on `port`.
    public func mode(for function: FunctionKey, port: Int) -> Effective {
        guard let modes = byFunction[function] else { return Effective(mode: .permissive, policy: nil) }
        return modes.ports[port] ?? modes.base
    }

    /// Whether any function accepts less than both kinds of caller (if not, the stage is not needed).
    public let restrictsAnything: Bool
}

/// The PeerAuthentication stage: after routing, refuses a plaintext request to a function that
/// is STRICT, and a mutual TLS request to one that is DISABLE, with 403 and a recorded decision.
public struct EnforcePeerAuthentication: RequestStage {
    public let modes: PeerAuthenticationModes
    public var name: StageName { .peerAuthentication }

    public init(modes: PeerAuthenticationModes) {
        self.modes = modes
    }

    /// Details: the function's `mode` on this port, the `policy` that set it, and the `caller` kind.
    public func explain(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageExplanation {
        let verdict = process(&record, headers: headers)
        guard let function = record.destination?.key else { return StageExplanation(verdict) }
        let effective = modes.mode(for: function, port: record.destinationPort)
        let caller = record.peer.map { "mutual TLS (\($0.principal ?? $0.uri))" } ?? "plaintext"
        var details: [String: DetailValue] = ["mode": .string(effective.mode.rawValue), "caller": .string(record.peer == nil ? "plaintext" : "mtls")]
        if let policy = effective.policy { details["policy"] = .string(policy) }
        let source = effective.policy.map { "PeerAuthentication \($0)" } ?? "the default (no PeerAuthentication applies)"
        if case .reject = verdict { return StageExplanation(verdict, details: details) }
        return StageExplanation(verdict, note: "\(function) is \(effective.mode.rawValue) by \(source); the caller is \(caller)", details: details)
    }

    public func process(_ record: inout RequestRecord, headers: some RequestHeaders) -> StageVerdict {
        guard let function = record.destination?.key else { return .proceed }
        let effective = modes.mode(for: function, port: record.destinationPort)
        let refused: (GatehouseError.Code, String)? = switch (effective.mode, record.peer) {
        case (.strict, nil): (.mtlsRequired, "is STRICT: plaintext callers are refused")
        case (.disable, .some): (.mtlsNotAccepted, "is DISABLE: mutual TLS callers are refused")
        default: nil
        }
        guard let (code, why) = refused else { return .proceed }
        let reason = "PeerAuthentication \(effective.policy ?? "?") \(why) (port \(record.destinationPort))"
        record.decision = AccessDecision(outcome: .deny, policy: effective.policy, reason: reason)
        return .reject(GatehouseError(code, detail: reason))
    }
}
