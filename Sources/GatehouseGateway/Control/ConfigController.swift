import Foundation
import GatehouseConfig
import GatehouseCore
import GatehouseFunctions
import GatehouseStore
import Logging

/// Changes the running config: every apply, delete, reload and change another writer made to
/// the store goes through here, one at a time.
///
/// An apply is all-or-nothing: the incoming documents are laid over the stored ones by key
/// (group, kind, namespace, name), the result is validated whole, committed to the store (durable
/// before anyone is told), and only then swapped in — the runtime first, so a request that read
/// the old snapshot still finds its old pool, retired but serving.
///
/// The store is the source of truth. Before a change, the controller catches up with what other
/// writers committed (`catchUp`); the change names, for each resource, the version it was built
/// on, so a commit by someone else in between (while this one warms up, say) makes the store
/// refuse it whole (`ControlError.conflict`, HTTP 409) instead of overwriting it. Changes other
/// writers make arrive through the store's change feed (`StoreFollower` → `follow`) and are
/// installed exactly as an apply is; a commit of this controller's own is already installed and
/// is recognized by its store revision.
actor ConfigController {
    /// Most documents one apply may carry; past it the apply is refused whole (413).
    static let maxDocumentsPerApply = 1000
    /// Revisions kept per function; older ones that no longer serve are forgotten (Knative's
    /// garbage collection keeps a bounded number too).
    static let maxRevisionsPerFunction = 100

    private let store: any ConfigStore
    private let runtime: FunctionRuntime
    private let remotes: RemoteFunctions
    /// The serving config; `explain` against the running gateway reads its stages.
    let live: LiveConfig
    private let logger: Logger
    /// Applied resources in the order they were first applied.
    private var resources: [StoredResource] = []
    /// The store revision `resources` and `revisions` reflect.
    private(set) var storeRevision: Int64 = 0
    /// The stored revision was read but is not what is served: it did not become ready (an
    /// instance failed to start) or did not validate. `retryIfBehind` tries it again.
    private(set) var behindStore = false
    /// Every stored revision's spec as written (no DestinationRule applied), read once at start.
    private var revisions: [RevisionKey: FunctionSpec] = [:]
    private var changing = false
    private var waitingChanges: [CheckedContinuation<Void, Never>] = []

    init(store: any ConfigStore, runtime: FunctionRuntime, remotes: RemoteFunctions, live: LiveConfig, logger: Logger) {
        self.store = store
        self.runtime = runtime
        self.remotes = remotes
        self.live = live
        self.logger = logger
    }

    var snapshot: ConfigSnapshot { live.active.snapshot }
    var stored: [StoredResource] { resources }
    /// The running snapshot and the revision numbers a function has in the store, oldest first,
    /// read together (an apply cannot come in between).
    func revisionState(of function: FunctionKey) -> (snapshot: ConfigSnapshot, numbers: [Int]) {
        (snapshot, revisions.keys.filter { $0.function == function }.map(\.number).sorted())
    }

    /// At start: serve what the store holds, then apply `files` (the `-f` paths) on top.
    func bootstrap(files: [String], actor: String) async throws(ControlError) -> ChangeSummary? {
        let kept: [StoredResource]
        do {
            let state = try await store.state()
            kept = state.resources
            storeRevision = state.revision
            revisions = readRevisions(try await store.revisions(of: nil))
        } catch { throw .store(error) }
        let snapshot: ConfigSnapshot
        do {
            snapshot = try validate(kept)
        } catch {
            guard case .invalid(let problems) = error else { throw error }
            throw .invalidStored(problems)
        }
        resources = kept
        try install(snapshot)
        guard !files.isEmpty else { return nil }
        return try await apply(sources: try Self.read(files), actor: actor, dryRun: false)
    }

    /// `SIGHUP`: read the `-f` paths again and apply them.
    func reload(files: [String], actor: String) async throws(ControlError) -> ChangeSummary {
        try await apply(sources: try Self.read(files), actor: actor, dryRun: false)
    }

    func apply(sources: [(file: String, yaml: String)], actor: String, dryRun: Bool) async throws(ControlError) -> ChangeSummary {
        try await oneAtATime { () async throws(ControlError) in try await applyNow(sources: sources, actor: actor, dryRun: dryRun) }
    }

    func delete(_ keys: [ResourceKey], actor: String) async throws(ControlError) -> ChangeSummary {
        try await oneAtATime { () async throws(ControlError) in try await deleteNow(keys, actor: actor) }
    }

    /// The change feed reported `revision`: when it is newer than what this controller holds (a
    /// change another writer made, or one that came in between two of its own), read the store
    /// and install it. Never throws: a store that cannot be read or a config that does not
    /// validate is logged, and the running config kept.
    func follow(_ revision: Int64) async {
        guard revision > storeRevision else { return }
        try? await oneAtATime { () async throws(ControlError) in
            do {
                try await catchUp()
            } catch {
                logger.error("cannot read the changes another writer made to the store; the running configuration was kept", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: Steps

    /// Runs changes one after another. An actor alone does not: a change awaits its warm-up, and
    /// another change could start in between.
    private func oneAtATime<T>(_ change: () async throws(ControlError) -> T) async throws(ControlError) -> T {
        while changing { await withCheckedContinuation { waitingChanges.append($0) } }
        changing = true
        defer {
            changing = false
            if !waitingChanges.isEmpty { waitingChanges.removeFirst().resume() }
        }
        return try await change()
    }

    /// Reads the store when its revision moved past `storeRevision`, makes what it holds this
    /// controller's `resources` (the store is the truth, even when it does not validate) and
    /// installs it when it does — validated, warmed up, swapped in as an apply would. When it does
    /// not, or does not become ready, the running config is kept and an error names what failed;
    /// the next change (from here or elsewhere) starts from what is stored.
    private func catchUp() async throws(ControlError) {
        var state: StoreState
        var stored: [StoredRevision]
        do {
            guard try await store.revision() > storeRevision else { return }
            // Resources and revisions are two reads: when a commit came in between, read both
            // again, or a deletion's missing revisions could look like an invalid config.
            var attempts = 0
            repeat {
                state = try await store.state()
                stored = try await store.revisions(of: nil)
                attempts += 1
            } while try await store.revision() != state.revision && attempts < 3
        } catch { throw .store(error) }
        guard state.revision > storeRevision else { return }
        let from = storeRevision
        resources = state.resources
        revisions = readRevisions(stored)
        storeRevision = state.revision
        try await installStored(revision: state.revision, from: from)
    }

    /// Installs `resources` as read from the store at `revision`; on failure keeps the running
    /// config, logs why, and marks this controller behind the store (retried by `retryIfBehind`).
    private func installStored(revision: Int64, from: Int64) async throws(ControlError) {
        // Only a config that validates is worth trying again; one that does not waits for the next change.
        behindStore = false
        let whole: ConfigSnapshot
        do {
            whole = try validate(resources)
        } catch {
            logger.error(
                "the store holds a configuration that does not validate (written by another writer); the running configuration was kept",
                metadata: ["revision": "\(revision)", "problems": "\(error.description)"])
            return
        }
        if startOnlyChanged(whole) {
            logger.warning("the store changed Mesh listeners, admin identities, the SVID lifetime or Gateway servers; they take effect at the next start")
        }
        do {
            try await warmUpAndSwap(to: whole)
        } catch {
            behindStore = true
            logger.error(
                "the configuration another writer stored did not become ready; the running configuration was kept, and it is tried again",
                metadata: ["revision": "\(revision)", "error": "\(error.description)"])
            return
        }
        logger.notice("configuration changed in the store", metadata: ["from": "\(from)", "revision": "\(revision)"])
    }

    /// When the stored config was read but is not served (it did not become ready, or did not
    /// validate), tries to install it again: a function that failed to start for a passing reason
    /// does not leave this node serving an old config until the next change.
    /// Returns whether it is still behind.
    func retryIfBehind() async -> Bool {
        guard behindStore else { return false }
        try? await oneAtATime { () async throws(ControlError) in
            guard behindStore else { return }
            do { try await catchUp() } catch { return }
            if behindStore { try await installStored(revision: storeRevision, from: storeRevision) }
        }
        return behindStore
    }

    /// Whether `whole` differs from the running snapshot in what only a restart applies.
    private func startOnlyChanged(_ whole: ConfigSnapshot) -> Bool {
        whole.mesh.ingress != snapshot.mesh.ingress || whole.mesh.admin != snapshot.mesh.admin || whole.mesh.mesh != snapshot.mesh.mesh
            || whole.mesh.svidLifetime != snapshot.mesh.svidLifetime || whole.mesh.adminMtls != snapshot.mesh.adminMtls
            || whole.mesh.adminIdentities != snapshot.mesh.adminIdentities || whole.gateways != snapshot.gateways
    }

    private func applyNow(sources: [(file: String, yaml: String)], actor: String, dryRun: Bool) async throws(ControlError) -> ChangeSummary {
        let incoming: ConfigSnapshot
        do { incoming = try ConfigLoader.load(sources: sources, whole: false) } catch { throw .invalid(error) }
        // Build on what is stored now, not on what this process last saw.
        try await catchUp()
        guard incoming.documents.count <= Self.maxDocumentsPerApply else {
            throw .tooLarge("\(incoming.documents.count) documents; one apply takes at most \(Self.maxDocumentsPerApply)")
        }
        guard !incoming.documents.isEmpty else {
            throw .empty("no Gatehouse or Istio resources in the input\(incoming.notices.isEmpty ? "" : " (\(incoming.notices.map(\.description).joined(separator: "; ")))")")
        }

        var next = resources
        var created: [RevisionKey: FunctionSpec] = [:]
        var changes: [ResourceChange] = []
        var items: [ChangeSummary.Item] = []
        // One reading of the clock for the change: what is kept in memory and what the store
        // writes must be the same time, or a restart would report a different one.
        let now = Date()
        for document in incoming.documents {
            let index = next.firstIndex { $0.document.key == document.key }
            let previous = index.map { next[$0] }
            let template = document.key.isFunction ? try? Self.template(of: document) : nil
            let generation = nextGeneration(previous: previous, document: document, template: template)
            if let template, generation != previous?.generation { created[template.atGeneration(generation).revisionKey] = template.atGeneration(generation) }
            let operation: ResourceChange.Operation? = switch previous {
            case nil: .created
            case let previous? where Self.differs(previous.document, document): .configured
            default: nil
            }
            items.append(.init(key: document.key, result: operation?.rawValue ?? "unchanged", generation: generation))
            guard let operation else { continue }
            changes.append(ResourceChange(
                operation: operation, key: document.key, document: document, generation: generation,
                expected: previous?.version ?? .absent, origin: document.origin, diff: TextDiff.lines(from: previous?.document.text ?? "", to: document.text)))
            let updated = StoredResource(document: document, generation: generation, appliedAt: now, appliedBy: actor)
            if let index { next[index] = updated } else { next.append(updated) }
        }

        let whole = try validate(next, adding: created)
        let basis = storeRevision
        var notices = incoming.notices.map(\.description)
        // What only the whole config reveals about what this apply brings (a Trigger whose Broker
        // or subscriber is still missing) is said too, once.
        let applied = incoming.documents.map { "\($0.key.kind) \($0.key.namespace)/\($0.key.name):" }
        let said = Set(incoming.notices.map(\.message))
        for notice in whole.notices where !said.contains(notice.message) && applied.contains(where: { notice.message.hasPrefix($0) }) {
            notices.append(notice.description)
        }
        if whole.mesh.ingress != snapshot.mesh.ingress || whole.mesh.admin != snapshot.mesh.admin || whole.mesh.mesh != snapshot.mesh.mesh
            || whole.mesh.svidLifetime != snapshot.mesh.svidLifetime || whole.mesh.adminMtls != snapshot.mesh.adminMtls
            || whole.mesh.adminIdentities != snapshot.mesh.adminIdentities {
            notices.append("Mesh listener addresses, the SVID lifetime and admin identities take effect at the next start")
        }
        if whole.gateways != snapshot.gateways {
            notices.append("Gateway servers (ports, hosts, certificates) take effect at the next start")
        }
        let summary = ChangeSummary(items: items, notices: notices, dryRun: dryRun)
        guard !dryRun, !changes.isEmpty else { return summary }
        try await commit(changes, basedOn: basis, resulting: next, snapshot: whole, actor: actor, at: now)
        revisions.merge(created) { _, new in new }
        await forgetOldRevisions(serving: whole)
        return summary
    }

    private func deleteNow(_ keys: [ResourceKey], actor: String) async throws(ControlError) -> ChangeSummary {
        try await catchUp()
        let missing = keys.filter { key in !resources.contains { $0.document.key == key } }
        guard missing.isEmpty else { throw .notFound(missing) }
        let next = resources.filter { resource in !keys.contains(resource.document.key) }
        let whole = try validate(next)
        let basis = storeRevision
        var changes: [ResourceChange] = []
        for resource in resources where keys.contains(resource.document.key) {
            changes.append(ResourceChange(
                operation: .deleted, key: resource.document.key, document: nil, generation: resource.generation,
                expected: resource.version, origin: resource.document.origin, diff: TextDiff.lines(from: resource.document.text, to: "")))
        }
        try await commit(changes, basedOn: basis, resulting: next, snapshot: whole, actor: actor, at: Date())
        let deleted = Set(keys.filter(\.isFunction).map { FunctionKey(namespace: $0.namespace, name: $0.name) })
        revisions = revisions.filter { !deleted.contains($0.key.function) }
        return ChangeSummary(
            items: changes.map { .init(key: $0.key, result: "deleted", generation: $0.generation) }, notices: [], dryRun: false)
    }

    /// Whether a document changes what is stored: its text, its version, or its directory (relative
    /// commands resolve from there, so the same text from elsewhere is a change).
    private static func differs(_ stored: ResourceDocument, _ incoming: ResourceDocument) -> Bool {
        stored.text != incoming.text || stored.apiVersion != incoming.apiVersion
            || SourceLocation.directory(of: stored.file) != SourceLocation.directory(of: incoming.file)
    }

    /// A Function's generation — its revision number — moves only when what its instances run
    /// changes (not its traffic); other kinds' with the document.
    private func nextGeneration(previous: StoredResource?, document: ResourceDocument, template: FunctionSpec?) -> Int {
        guard let previous else { return 1 }
        guard Self.differs(previous.document, document) else { return previous.generation }
        guard document.key.isFunction else { return previous.generation + 1 }
        let key = RevisionKey(function: FunctionKey(namespace: document.key.namespace, name: document.key.name), number: previous.generation)
        guard let old = revisions[key], let template else { return previous.generation + 1 }
        return old.runsLike(template) ? previous.generation : previous.generation + 1
    }

    /// The whole config, its functions at their generations and their traffic resolved against
    /// the stored revisions plus `adding` (the revisions this change creates).
    private func validate(_ next: [StoredResource], adding: [RevisionKey: FunctionSpec] = [:]) throws(ControlError) -> ConfigSnapshot {
        var whole: ConfigSnapshot
        do { whole = try ConfigLoader.load(documents: next.map(\.document)) } catch { throw .invalid(error) }
        let generations = Dictionary(next.map { ($0.document.key, $0.generation) }, uniquingKeysWith: { a, _ in a })
        for index in whole.functions.indices {
            let spec = whole.functions[index]
            whole.functions[index].generation = generations[
                ResourceKey(group: "gatehouse.dev", kind: "Function", namespace: spec.namespace, name: spec.name)] ?? 1
        }
        // A function re-created after a delete starts its revisions again.
        let live = Set(whole.functions.map(\.key))
        let known = revisions.filter { live.contains($0.key.function) && adding[$0.key] == nil }.merging(adding) { _, new in new }
        do { try RevisionResolver.resolve(&whole, revisions: known) } catch { throw .invalid(error) }
        return whole
    }

    /// A Function document decoded alone: the spec as written, before any DestinationRule.
    private static func template(of document: ResourceDocument) throws(ConfigError) -> FunctionSpec? {
        try ConfigLoader.load(documents: [document]).functions.first
    }

    private func readRevisions(_ stored: [StoredRevision]) -> [RevisionKey: FunctionSpec] {
        var specs: [RevisionKey: FunctionSpec] = [:]
        for revision in stored {
            do {
                guard let spec = try Self.template(of: revision.document) else { continue }
                specs[revision.key] = spec.atGeneration(revision.key.number)
            } catch {
                logger.warning(
                    "a stored revision no longer loads; it cannot serve again",
                    metadata: ["revision": "\(revision.key)", "problems": "\(error.description)"])
            }
        }
        return specs
    }

    /// Each serving revision's share of its function's traffic (a tag or a subset alone: 0).
    private static func percents(_ snapshot: ConfigSnapshot) -> [RevisionKey: Int] {
        var percents = Dictionary(snapshot.servingRevisions.map { ($0.revisionKey, 0) }, uniquingKeysWith: { a, _ in a })
        for function in snapshot.functions {
            for share in snapshot.routing.shares(of: function) { percents[share.revision, default: 0] += share.percent }
        }
        return percents
    }

    /// Keeps at most `maxRevisionsPerFunction` per function, never one that serves or that a
    /// traffic target names (a later apply must still find it).
    private func forgetOldRevisions(serving snapshot: ConfigSnapshot) async {
        var kept = Set(snapshot.servingRevisions.map(\.revisionKey))
        for shares in snapshot.routing.traffic.values { kept.formUnion(shares.map(\.revision)) }
        var dropped: [RevisionKey] = []
        for (_, keys) in Dictionary(grouping: revisions.keys, by: \.function) where keys.count > Self.maxRevisionsPerFunction {
            let old = keys.sorted { $0.number > $1.number }.dropFirst(Self.maxRevisionsPerFunction)
            dropped += old.filter { !kept.contains($0) }
        }
        guard !dropped.isEmpty else { return }
        do {
            try await store.dropRevisions(dropped)
            for key in dropped { revisions[key] = nil }
        } catch {
            logger.warning("could not forget old revisions", metadata: ["error": "\(error)"])
        }
    }

    /// Warm up, make durable, swap — in that order, so a failure at any step changes nothing.
    private func commit(
        _ changes: [ResourceChange], basedOn basis: Int64, resulting next: [StoredResource], snapshot: ConfigSnapshot, actor: String, at now: Date
    ) async throws(ControlError) {
        let (remote, transition) = try await warmUp(snapshot)
        let committed: Int64
        do {
            committed = try await store.commit(changes, basedOn: basis, actor: actor, at: now)
        } catch {
            runtime.abandon(transition)
            if let conflict = error.conflict { throw .conflict(conflict) }
            throw .store(error)
        }
        let changed = Set(changes.map(\.key))
        resources = next.map { resource in
            var resource = resource
            if changed.contains(resource.document.key) { resource.revision = committed }
            return resource
        }
        // Another writer committed in between (to other resources): the feed will bring it, and
        // `catchUp` reads it all then. Until then this controller is behind on those.
        if committed == storeRevision + 1 { storeRevision = committed }
        swap(to: snapshot, pools: runtime.commit(transition), remote: remote)
        logger.notice(
            "configuration changed",
            metadata: ["actor": "\(actor)", "changes": "\(changes.map { "\($0.operation.rawValue) \($0.key)" }.joined(separator: ", "))"])
    }

    /// Installs a config that is already stored: warmed up first, so a failure changes nothing.
    private func warmUpAndSwap(to snapshot: ConfigSnapshot) async throws(ControlError) {
        let (remote, transition) = try await warmUp(snapshot)
        swap(to: snapshot, pools: runtime.commit(transition), remote: remote)
    }

    /// The snapshot's remote functions and instance pools, ready (new instances started and
    /// accepting); on failure everything prepared is let go and nothing changed.
    private func warmUp(_ snapshot: ConfigSnapshot) async throws(ControlError) -> ([RevisionKey: RemoteFunction], FunctionRuntime.Transition) {
        let remote: [RevisionKey: RemoteFunction]
        do { remote = try remotes.prepare(snapshot) } catch { throw .notReady([error.description]) }
        let transition = runtime.prepare(snapshot.servingRevisions.filter(\.runsLocally), percents: Self.percents(snapshot))
        let failures = await runtime.warmUp(transition)
        guard failures.isEmpty else {
            runtime.abandon(transition)
            throw .notReady(failures.map { "\($0.key): \($0.reason)" })
        }
        return (remote, transition)
    }

    private func install(_ snapshot: ConfigSnapshot) throws(ControlError) {
        let remote: [RevisionKey: RemoteFunction]
        do { remote = try remotes.prepare(snapshot) } catch { throw .notReady([error.description]) }
        swap(to: snapshot, pools: runtime.commit(runtime.prepare(snapshot.servingRevisions.filter(\.runsLocally), percents: Self.percents(snapshot))), remote: remote)
    }

    /// Requests from here on run on `snapshot`, reaching its instance pools and remote functions.
    private func swap(to snapshot: ConfigSnapshot, pools: [RevisionKey: FunctionPool], remote: [RevisionKey: RemoteFunction]) {
        var upstreams: [RevisionKey: any FunctionUpstream] = pools
        for (key, function) in remote { upstreams[key] = function }
        live.install(ActiveConfig(
            snapshot: snapshot, pools: upstreams, keys: live.keys, limiters: live.limiters, issuer: live.issuer, events: live.events, login: live.login))
        remotes.commit(remote, rules: snapshot)
    }

    private static func read(_ paths: [String]) throws(ControlError) -> [(file: String, yaml: String)] {
        do { return try ConfigLoader.read(paths: paths) } catch { throw .invalid(error) }
    }
}

/// What an apply or delete did, resource by resource.
struct ChangeSummary: Sendable {
    struct Item: Sendable {
        var key: ResourceKey
        var result: String
        var generation: Int
    }

    var items: [Item]
    var notices: [String]
    var dryRun: Bool
}

/// Why a change was refused; nothing was changed.
enum ControlError: Error, CustomStringConvertible {
    case invalid(ConfigError)
    case invalidStored(ConfigError)
    case empty(String)
    case tooLarge(String)
    case notFound([ResourceKey])
    case notReady([String])
    case store(StoreError)
    /// Another writer changed a resource between this change's read and its commit.
    case conflict(StoreError.Conflict)

    var description: String {
        switch self {
        case .invalid(let error): "invalid configuration, nothing was changed:\n\(error.description)"
        case .invalidStored(let error): "the stored configuration does not load:\n\(error.description)"
        case .empty(let message), .tooLarge(let message): message
        case .notFound(let keys): "not found: \(keys.map(\.description).joined(separator: ", ")); nothing was changed"
        case .notReady(let reasons):
            "the new spec did not become ready, so the running one was kept and nothing was changed: \(reasons.joined(separator: "; "))"
        case .store(let error): error.description
        case .conflict(let conflict):
            "\(conflict.key) was changed by someone else (\(conflict.currentGeneration.map { "now generation \($0)" } ?? "now deleted")) "
                + "while this change was being made; nothing was applied. Run it again to apply it over the new version"
        }
    }
}
