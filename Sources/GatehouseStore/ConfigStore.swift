import Foundation
import GatehouseCore

/// The seam every piece of applied configuration goes through: SQLite in the state directory on
/// one node (`SQLiteStore`); a shared database (PostgreSQL) can take its place for a cluster.
///
/// **Durability.** A commit is durable before it returns: an apply is acknowledged only after it.
///
/// **Optimistic concurrency.** Every change names what it expects to find (`ResourceChange.expected`, an `ExpectedVersion`):
/// nothing, or the version it read. A commit checks all of them inside its one write transaction
/// and refuses the whole batch with a `.conflict` error (naming the resource and what is there
/// now) when any differs, so of two writers that read the same version only the first wins —
/// whether they are two tasks, two processes on one file, or two nodes on one database.
///
/// **Revisions and the change feed.** Every commit gets the next store revision (its history
/// batch number), strictly increasing. `changes(after:)` yields each committed batch after a
/// revision, whoever wrote it: a consumer that remembers the last revision it applied resumes
/// from there, and a second writer's changes reach every reader without a restart.
///
/// Calls are async and never block the caller's thread on disk I/O.
public protocol ConfigStore: Sendable {
    /// Every applied resource, in the order it was first applied, and the store revision they are
    /// at, read together (one read transaction).
    func state() async throws(StoreError) -> StoreState
    /// The revision of the newest commit (0 for an empty store). Cheap: callers check it before a
    /// read-modify-write.
    func revision() async throws(StoreError) -> Int64
    /// Writes one apply or delete: all of `changes` or none of them, with their history entries,
    /// as the next store revision, which it returns. Refused whole (`StoreError.Reason.conflict`)
    /// when any change's `expected` does not match what is stored, or — with `basedOn` — when
    /// anything was committed since that revision: the whole config was validated as of it, and
    /// two changes valid alone (a route to a function, the function's deletion) may not be together.
    @discardableResult
    func commit(_ changes: [ResourceChange], basedOn: Int64?, actor: String, at time: Date) async throws(StoreError) -> Int64
    /// The newest entries first; nil filters match everything.
    func history(_ filter: HistoryFilter, limit: Int) async throws(StoreError) -> [HistoryEntry]
    /// The stored revisions of one function, or of all when nil, oldest first. A commit that
    /// creates or changes a Function at a new generation stores that revision; deleting the
    /// Function deletes its revisions.
    func revisions(of function: FunctionKey?) async throws(StoreError) -> [StoredRevision]
    /// Forgets old revisions (retention); the history keeps their diffs. Not a config change: it
    /// makes no store revision.
    func dropRevisions(_ keys: [RevisionKey]) async throws(StoreError)
    /// Every batch committed after `revision`, oldest first, by any writer, then each new one as
    /// it is committed; it ends only when the consuming task is cancelled (or with a `StoreError`
    /// when the store cannot be read). How quickly a batch arrives is the implementation's to say.
    func changes(after revision: Int64) -> StoreChanges
}

extension ConfigStore {
    /// Every applied resource, in the order it was first applied.
    public func resources() async throws(StoreError) -> [StoredResource] { try await state().resources }
}

/// The feed `ConfigStore.changes(after:)` returns.
public typealias StoreChanges = AsyncThrowingStream<StoreBatch, any Error>

/// What the store holds at one revision.
public struct StoreState: Sendable, Hashable {
    public var revision: Int64
    public var resources: [StoredResource]

    public init(revision: Int64, resources: [StoredResource]) {
        self.revision = revision
        self.resources = resources
    }
}

/// One commit, as the change feed reports it.
public struct StoreBatch: Sendable, Hashable {
    /// The store revision the commit made.
    public var revision: Int64
    /// Its history entries, in the order they were written.
    public var entries: [HistoryEntry]

    public init(revision: Int64, entries: [HistoryEntry]) {
        self.revision = revision
        self.entries = entries
    }
}

/// What a change expects the store to hold for its resource; the commit is refused otherwise.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// No such resource: a create.
    case absent
    /// The resource as it was read. `revision` (the store revision that last wrote it) is what
    /// decides: a Function's generation stays put when only its traffic changes, so two writers
    /// could read the same generation of different content. `generation` is for messages.
    case version(generation: Int, revision: Int64)

    public var description: String {
        switch self {
        case .absent: "absent"
        case .version(let generation, let revision): "generation \(generation) (store revision \(revision))"
        }
    }
}

/// One immutable revision of a Function: the document as it was applied when the revision was made.
public struct StoredRevision: Sendable, Hashable {
    public var key: RevisionKey
    public var document: ResourceDocument
    public var createdAt: Date
    public var createdBy: String

    public init(key: RevisionKey, document: ResourceDocument, createdAt: Date, createdBy: String) {
        self.key = key
        self.document = document
        self.createdAt = createdAt
        self.createdBy = createdBy
    }
}

/// A resource as the store keeps it.
public struct StoredResource: Sendable, Hashable {
    public var document: ResourceDocument
    /// 1 when created, one more each time its content changes.
    public var generation: Int
    /// The store revision that last wrote it (0 when not yet committed).
    public var revision: Int64
    public var appliedAt: Date
    public var appliedBy: String

    public init(document: ResourceDocument, generation: Int, revision: Int64 = 0, appliedAt: Date, appliedBy: String) {
        self.document = document
        self.generation = generation
        self.revision = revision
        self.appliedAt = appliedAt
        self.appliedBy = appliedBy
    }

    /// What a change to this resource expects to find.
    public var version: ExpectedVersion { .version(generation: generation, revision: revision) }
}

/// One resource created, changed or deleted by an apply or delete.
public struct ResourceChange: Sendable, Hashable {
    public enum Operation: String, Sendable, Codable {
        case created, configured, deleted
    }

    public var operation: Operation
    public var key: ResourceKey
    /// The new document; nil for a deletion.
    public var document: ResourceDocument?
    public var generation: Int
    /// What the writer read, and expects still to be there.
    public var expected: ExpectedVersion
    /// Where the change came from (`file:line`), for the history.
    public var origin: String
    /// The change as removed (`-`) and added (`+`) lines.
    public var diff: String

    public init(
        operation: Operation, key: ResourceKey, document: ResourceDocument?, generation: Int, expected: ExpectedVersion,
        origin: String, diff: String
    ) {
        self.operation = operation
        self.key = key
        self.document = document
        self.generation = generation
        self.expected = expected
        self.origin = origin
        self.diff = diff
    }
}

/// A line of `gatehouse history`.
public struct HistoryEntry: Sendable, Hashable, Codable {
    public var id: Int64
    /// Changes applied together share a batch number.
    public var batch: Int64
    public var at: Date
    public var actor: String
    public var operation: ResourceChange.Operation
    public var group: String
    public var kind: String
    public var namespace: String
    public var name: String
    public var generation: Int
    public var origin: String
    public var diff: String
}

public struct HistoryFilter: Sendable, Hashable {
    public var kind: String?
    public var namespace: String?
    public var name: String?

    public init(kind: String? = nil, namespace: String? = nil, name: String? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }
}

/// Why the store could not be read or written; nothing was changed.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable { case corrupt, locked, failed, conflict }

    /// A commit found something other than what a change expected.
    public struct Conflict: Sendable, Hashable {
        public var key: ResourceKey
        public var expected: ExpectedVersion
        /// What is stored now; nil when the resource does not exist.
        public var currentGeneration: Int?
        public var currentRevision: Int64?

        public init(key: ResourceKey, expected: ExpectedVersion, currentGeneration: Int?, currentRevision: Int64?) {
            self.key = key
            self.expected = expected
            self.currentGeneration = currentGeneration
            self.currentRevision = currentRevision
        }
    }

    public var reason: Reason
    public var path: String
    public var detail: String
    /// Set when `reason` is `.conflict`.
    public var conflict: Conflict?

    public init(_ reason: Reason, path: String, detail: String, conflict: Conflict? = nil) {
        self.reason = reason
        self.path = path
        self.detail = detail
        self.conflict = conflict
    }

    public var description: String {
        switch reason {
        case .corrupt:
            "\(path) is not a readable Gatehouse database (\(detail)); nothing was changed. "
                + "Move the file aside to start with an empty store, or restore it from a backup"
        case .locked:
            "\(path) is locked by another process (\(detail)); nothing was changed. Try again when it is done"
        case .failed:
            "cannot use \(path): \(detail); nothing was changed"
        case .conflict:
            "\(detail); nothing was changed"
        }
    }
}
