import Foundation
import GatehouseCore

/// The seam every piece of applied configuration goes through: SQLite in the state directory on
/// one node (`SQLiteStore`); a shared database can take its place for a cluster.
///
/// A commit is durable before it returns: an apply is acknowledged only after its commit.
public protocol ConfigStore: Sendable {
    /// Every applied resource, in the order it was first applied.
    func resources() throws(StoreError) -> [StoredResource]
    /// Writes one apply or delete: all of `changes` or none of them, with their history entries.
    func commit(_ changes: [ResourceChange], actor: String, at time: Date) throws(StoreError)
    /// The newest entries first; nil filters match everything.
    func history(_ filter: HistoryFilter, limit: Int) throws(StoreError) -> [HistoryEntry]
    /// The stored revisions of one function, or of all when nil, oldest first. A commit that
    /// creates or changes a Function at a new generation stores that revision; deleting the
    /// Function deletes its revisions.
    func revisions(of function: FunctionKey?) throws(StoreError) -> [StoredRevision]
    /// Forgets old revisions (retention); the history keeps their diffs.
    func dropRevisions(_ keys: [RevisionKey]) throws(StoreError)
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
    public var appliedAt: Date
    public var appliedBy: String

    public init(document: ResourceDocument, generation: Int, appliedAt: Date, appliedBy: String) {
        self.document = document
        self.generation = generation
        self.appliedAt = appliedAt
        self.appliedBy = appliedBy
    }
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
    /// Where the change came from (`file:line`), for the history.
    public var origin: String
    /// The change as removed (`-`) and added (`+`) lines.
    public var diff: String

    public init(operation: Operation, key: ResourceKey, document: ResourceDocument?, generation: Int, origin: String, diff: String) {
        self.operation = operation
        self.key = key
        self.document = document
        self.generation = generation
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
    public enum Reason: Sendable { case corrupt, locked, failed }

    public var reason: Reason
    public var path: String
    public var detail: String

    public init(_ reason: Reason, path: String, detail: String) {
        self.reason = reason
        self.path = path
        self.detail = detail
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
        }
    }
}
