import Foundation
import GatehouseConfig
import GatehouseCore
import GatehouseFunctions
import NIOConcurrencyHelpers
import NIOCore

/// The remote functions of the running config, each with the TLS its DestinationRule asks for.
/// An apply that changes neither a remote function nor its rule keeps its kept-alive connections.
final class RemoteFunctions: Sendable {
    private struct Entry: Sendable {
        let function: RemoteFunction
        let rule: DestinationRuleSpec.ClientTLSSettings?
    }

    private let current = NIOLockedValueBox<[RevisionKey: Entry]>([:])
    private let eventLoops: [any EventLoop]
    /// `STATE_DIR/credentials`, where a `credentialName` points.
    private let credentials: URL
    private let identities: FunctionIdentities

    init(eventLoops: [any EventLoop], credentials: URL, identities: FunctionIdentities) {
        self.eventLoops = eventLoops
        self.credentials = credentials
        self.identities = identities
    }

    /// What `snapshot` calls for, one per serving revision, not yet in use; fails (changing nothing)
    /// when a rule's files cannot be read.
    func prepare(_ snapshot: ConfigSnapshot) throws(RemoteTLS.Problem) -> [RevisionKey: RemoteFunction] {
        var prepared: [RevisionKey: RemoteFunction] = [:]
        let running = current.withLockedValue { $0 }
        for spec in snapshot.servingRevisions {
            guard case .remote(let endpoint) = spec.workload else { continue }
            let rule = DestinationRuleSpec.rule(for: spec, in: snapshot.destinationRules, rootNamespace: snapshot.mesh.rootNamespace)
            if let entry = running[spec.revisionKey], entry.function.spec.runsLike(spec), entry.rule == rule?.tls {
                prepared[spec.revisionKey] = entry.function
                continue
            }
            let (tls, mode) = try RemoteTLS.settings(
                for: spec, endpoint: endpoint, rule: rule, credentials: credentials, identities: identities)
            prepared[spec.revisionKey] = RemoteFunction(spec: spec, endpoint: endpoint, tls: tls, tlsMode: mode.rawValue, eventLoops: eventLoops)
        }
        return prepared
    }

    /// Makes `prepared` the running set; the ones it replaced close their idle connections.
    func commit(_ prepared: [RevisionKey: RemoteFunction], rules snapshot: ConfigSnapshot) {
        let dropped = current.withLockedValue { current -> [RemoteFunction] in
            let old = current
            current = prepared.mapValues { function in
                Entry(function: function, rule: DestinationRuleSpec.rule(
                    for: function.spec, in: snapshot.destinationRules, rootNamespace: snapshot.mesh.rootNamespace)?.tls)
            }
            return old.values.map(\.function).filter { function in prepared[function.spec.revisionKey] !== function }
        }
        for function in dropped { function.close() }
    }
}
