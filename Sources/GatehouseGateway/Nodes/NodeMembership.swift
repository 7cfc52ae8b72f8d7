import Foundation
import GatehouseCore
import GatehouseStore
import Logging
import ServiceLifecycle
import Synchronization

/// This node's row in the node registry: claimed at start (before anything is bound), given the
/// bound addresses once they are known (`announce`), kept fresh by a heartbeat every
/// `NodeTiming.heartbeatInterval`, and deleted at a clean stop — the first service to stop, so the
/// other nodes stop counting on this one as soon as it starts draining.
///
/// A heartbeat that cannot be written (the store unreachable) is tried again at the next interval;
/// the node keeps serving. When the row turns out to be another process's (this node was
/// `NotReady` long enough for another to take the name), it claims the name again if it is free
/// and otherwise stays out of the registry. `NodeHeartbeatHealth` decides what of this is logged:
/// each change once, not every interval.
final class NodeMembership: Service, Sendable {
    private let registry: any NodeRegistry
    private let timing: NodeTiming
    private let logger: Logger
    private let claim: Mutex<NodeClaim>
    /// Told the registry's nodes after every heartbeat (set once the mesh identity exists), and
    /// what this node's row says of its identity (its CA's roots, its gateway SVIDs), read afresh
    /// for every heartbeat so a renewal or rotation reaches the others within one.
    private let placement = Mutex<(placement: NodePlacement, identity: @Sendable () -> (roots: [String], certificates: [String]))?>(nil)
    /// How often rows of nodes gone longer than `timing.forgetAfter` are deleted.
    static let pruneInterval: Duration = .seconds(60)

    /// Claims `name` for this process. Throws `StartupFailure` naming the holder when a `Ready`
    /// node of another state directory has it.
    static func join(
        registry: any NodeRegistry, name: NodeName, owner: String, timing: NodeTiming, logger: Logger
    ) async throws -> NodeMembership {
        let claim = NodeClaim(name: name, owner: owner, goneAfter: timing.goneAfter)
        let decision = try await registry.claim(claim)
        switch decision {
        case .refused(let holder):
            throw StartupFailure(description: NodeMembership.refusal(name: name, holder: holder))
        case .takenOverFromGone(let holder):
            logger.notice(
                "node \(name) took over its name from a process that stopped heartbeating \(holder.sinceHeartbeat.roundedDescription) ago",
                metadata: ["node": "\(name)"])
        case .restarted, .free:
            logger.info("node \(name) joined the node registry", metadata: ["node": "\(name)"])
        }
        // Rows of nodes long gone: at every start, then every `pruneInterval`.
        _ = try? await registry.prune(notSeenFor: timing.forgetAfter)
        return NodeMembership(registry: registry, timing: timing, logger: logger, claim: claim)
    }

    private init(registry: any NodeRegistry, timing: NodeTiming, logger: Logger, claim: NodeClaim) {
        self.registry = registry
        self.timing = timing
        self.logger = logger
        self.claim = Mutex(claim)
    }

    var name: NodeName { claim.withLock { $0.name } }

    /// From now on `placement` follows the registry: read after this node's address is announced
    /// and after every heartbeat.
    func follow(_ placement: NodePlacement, identity: @escaping @Sendable () -> (roots: [String], certificates: [String])) {
        self.placement.withLock { $0 = (placement, identity) }
    }

    /// Reads the registry for the placement; a failed read keeps the nodes it had.
    private func refreshPlacement() async {
        guard let placement = placement.withLock({ $0?.placement }) else { return }
        if let nodes = try? await registry.nodes() { placement.update(nodes) }
    }

    /// The claim to write now, with this node's current identity facts.
    private func currentClaim() -> NodeClaim {
        let identity = placement.withLock { $0?.identity }
        let facts = identity?()
        return claim.withLock { claim in
            if let facts {
                claim.addresses.meshRoots = facts.roots
                claim.addresses.gatewayCertificates = facts.certificates
            }
            return claim
        }
    }

    /// The addresses this node bound, as written to `endpoints.json`: recorded with a heartbeat now.
    func announce(_ addresses: NodeAddresses) async {
        claim.withLock { $0.addresses = addresses }
        do {
            _ = try await registry.heartbeat(currentClaim())
        } catch {
            logger.warning("cannot record this node's addresses in the node registry; the next heartbeat tries again", metadata: ["error": "\(error)"])
        }
        await refreshPlacement()
    }

    /// Deletes this node's row (a clean stop); the name is free at once. Harmless when done twice.
    func leave() async {
        placement.withLock { $0?.placement }?.leave()
        do {
            try await registry.leave(claim.withLock { $0 })
        } catch {
            logger.warning("cannot remove this node from the node registry; it shows as NotReady until its row is pruned", metadata: ["error": "\(error)"])
        }
    }

    func run() async throws {
        var health = NodeHeartbeatHealth()
        var nextPrune = ContinuousClock.now + Self.pruneInterval
        // On a fixed cadence, so a slow write does not stretch the gap to the next heartbeat.
        var next = ContinuousClock.now + timing.heartbeatInterval
        while !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { [next] in try await Task.sleep(until: next, clock: .continuous) }
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            if let report = health.record(await beat()) { log(report) }
            await refreshPlacement()
            next = max(next + timing.heartbeatInterval, ContinuousClock.now)
            if ContinuousClock.now >= nextPrune {
                nextPrune = ContinuousClock.now + Self.pruneInterval
                _ = try? await registry.prune(notSeenFor: timing.forgetAfter)
            }
        }
        await leave()
    }

    /// One heartbeat; when the row is no longer ours, a claim of the name if nobody live holds it.
    private func beat() async -> NodeHeartbeatHealth.Outcome {
        let current = currentClaim()
        do {
            if try await registry.heartbeat(current) { return .written }
            if case .refused(let holder) = try await registry.claim(current) { return .nameHeld(by: holder) }
            return .reclaimed
        } catch {
            return .storeFailed(error.description)
        }
    }

    private func log(_ report: NodeHeartbeatHealth.Report) {
        let name = self.name
        switch report {
        case .recovered:
            logger.notice("node \(name) heartbeats into the node registry again", metadata: ["node": "\(name)"])
        case .reclaimed:
            logger.warning("node \(name) had dropped out of the node registry; it has claimed its name again", metadata: ["node": "\(name)"])
        case .nameLost(let holder):
            logger.error(
                "\(Self.refusal(name: name, holder: holder)); this node stays out of the node registry until the name is free",
                metadata: ["node": "\(name)"])
        case .storeFailing(let error):
            logger.warning(
                "cannot write this node's heartbeat; the other nodes see it NotReady after \(timing.goneAfter.roundedDescription) without one",
                metadata: ["node": "\(name)", "error": "\(error)"])
        }
    }

    static func refusal(name: NodeName, holder: NodeRecord) -> String {
        let address = holder.addresses.admin.map { ", admin \($0)" } ?? ""
        return "the node name \(name) is held by another running node (last heartbeat \(holder.sinceHeartbeat.roundedDescription) ago\(address)); "
            + "start this one with another --node-name, or stop that one (a node that ended without stopping frees its name "
            + "\(holder.goneAfter.roundedDescription) after its last heartbeat)"
    }
}

extension Duration {
    /// `1.2s`, `15s`, `3m`: for messages about heartbeats.
    fileprivate var roundedDescription: String {
        let seconds = timeInterval
        if seconds < 10 { return String(format: "%.1fs", seconds) }
        if seconds < 600 { return "\(Int(seconds.rounded()))s" }
        return "\(Int((seconds / 60).rounded()))m"
    }
}
