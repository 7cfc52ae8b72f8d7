import Foundation

/// The admin API's JSON bodies (`docs/admin-api.md`), shared by the server and the CLI.
public enum AdminWire {
    /// `POST /api/v1/apply`: YAML files, each with the name diagnostics should use.
    public struct ApplyRequest: Codable, Sendable {
        public struct File: Codable, Sendable {
            public var name: String
            public var content: String
            public init(name: String, content: String) {
                self.name = name
                self.content = content
            }
        }

        public var files: [File]
        /// Validate and report what would change, without changing anything.
        public var dryRun: Bool?

        public init(files: [File], dryRun: Bool? = nil) {
            self.files = files
            self.dryRun = dryRun
        }
    }

    /// `POST /api/v1/delete`.
    public struct DeleteRequest: Codable, Sendable {
        public var resources: [ResourceName]
        public init(resources: [ResourceName]) { self.resources = resources }
    }

    public struct ResourceName: Codable, Sendable, Hashable {
        public var kind: String
        public var namespace: String
        public var name: String
        public init(kind: String, namespace: String, name: String) {
            self.kind = kind
            self.namespace = namespace
            self.name = name
        }
    }

    /// The answer to an apply or a delete: what happened to each resource named.
    public struct ChangeReport: Codable, Sendable {
        public struct Item: Codable, Sendable {
            public var kind: String
            public var namespace: String
            public var name: String
            /// `created`, `configured`, `unchanged` or `deleted`.
            public var result: String
            public var generation: Int
        }

        public var items: [Item]
        public var notices: [String]
        public var dryRun: Bool
    }

    /// A stored resource, as `get` shows it.
    public struct Resource: Codable, Sendable {
        public var apiVersion: String
        public var kind: String
        public var namespace: String
        public var name: String
        public var generation: Int
        public var appliedAt: Date
        public var appliedBy: String
        /// `file:line` it was applied from.
        public var origin: String
        /// The same, apart: the file, and how many of its lines precede the document.
        public var file: String
        public var lineOffset: Int
        /// The document as applied.
        public var yaml: String
    }

    /// A function's live state, as `get functions` and `describe function` show it.
    public struct FunctionStatus: Codable, Sendable {
        public struct Instance: Codable, Sendable {
            public var id: Int
            public var port: Int
            public var ready: Bool
            public var inflight: Int
            /// The revision the instance runs.
            public var revision: String?
        }

        public struct ColdStart: Codable, Sendable {
            public var at: Date
            public var milliseconds: Double
        }

        public var namespace: String
        public var name: String
        public var url: String
        public var revision: String
        public var generation: Int
        /// `Idle` (scaled to zero), `Starting`, `Ready`, or `Remote` (a remote function).
        public var state: String
        public var instances: [Instance]
        public var queueDepth: Int
        public var lastColdStart: ColdStart?
        public var command: [String]
        /// A remote function's URL and the TLS mode used towards it.
        public var remote: Remote?
        public var minInstances: Int
        public var maxInstances: Int
        public var concurrency: Int
        public var timeout: String
        public var origin: String?
        public var appliedAt: Date?
        public var appliedBy: String?
    }

    /// `GET /api/v1/functions/NS/NAME/revisions`: one revision, its share of traffic and its instances.
    public struct RevisionStatus: Codable, Sendable {
        public var name: String
        public var number: Int
        public var createdAt: Date?
        public var createdBy: String?
        /// The newest revision (`latestRevision: true` targets it).
        public var latest: Bool
        /// Its share of the function's host's traffic, 0 to 100.
        public var percent: Int
        /// Its tags, each with the URL that reaches it alone.
        public var tags: [Tag]
        /// DestinationRule subsets that select it for a VirtualService.
        public var subsets: [String]
        /// Whether it runs instances (receives traffic by percent, tag or subset).
        public var serving: Bool
        public var instances: Int
        public var ready: Int

        public struct Tag: Codable, Sendable {
            public var tag: String
            public var url: String
        }
    }

    /// `GET /api/v1/nodes`: one node of the store's registry, as `gatehouse get nodes` shows it.
    public struct Node: Codable, Sendable {
        public struct Addresses: Codable, Sendable {
            public var ingress: String?
            public var mesh: String?
            public var admin: String?
            public var adminMtls: String?
        }

        public var name: String
        /// What it bound, as in its `endpoints.json`; absent until it has bound them.
        public var addresses: Addresses
        /// `Ready` (heartbeating) or `NotReady` (no heartbeat for `goneAfter`).
        public var state: String
        /// By the store's clock (PostgreSQL's `now()`); RFC 3339.
        public var lastHeartbeat: Date
        public var startedAt: Date
        /// How long after its last heartbeat the node counts as gone (`15s` by default).
        public var goneAfter: String
    }

    public struct Remote: Codable, Sendable {
        public var url: String
        public var tls: String
    }

    /// Every error from `/api/`: the same shape as the ingress's, plus config diagnostics.
    public struct ErrorBody: Codable, Sendable, Error {
        public struct Diagnostic: Codable, Sendable {
            public var file: String
            public var line: Int
            public var column: Int
            public var field: String
            public var message: String
            public var fix: String?
        }

        public var status: Int
        public var code: String
        public var message: String
        public var diagnostics: [Diagnostic]?
        /// A conflict (409): the resource another writer changed, and its generation now (absent
        /// when it was deleted).
        public var resource: ResourceName?
        public var currentGeneration: Int?
    }

    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
