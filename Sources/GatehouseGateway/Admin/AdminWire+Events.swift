import Foundation

extension AdminWire {
    /// `GET /api/v1/triggers/NS/NAME`: what `gatehouse describe trigger` shows.
    public struct TriggerReport: Codable, Sendable {
        public struct Outcome: Codable, Sendable {
            public var at: String
            public var eventId: String
            public var eventType: String
            /// `delivered`, `retried`, `dead-lettered` or `dropped`.
            public var result: String
            public var status: Int?
            public var reason: String?
        }

        public var namespace: String
        public var name: String
        public var broker: String
        /// Its Broker exists (deliveries run).
        public var ready: Bool
        public var filter: String
        public var subscriber: String
        public var deadLetterSink: String?
        /// The SPIFFE ID deliveries carry.
        public var identity: String
        public var delivered: Int
        public var retried: Int
        public var deadLettered: Int
        public var pending: Int
        public var oldestPending: String?
        public var inflight: Int
        public var concurrency: Int
        /// The circuit breaker holds deliveries after repeated failures.
        public var paused: Bool
        public var consecutiveFailures: Int
        public var resumesAt: String?
        public var recent: [Outcome]
    }

    /// One of `GET /api/v1/dead-letters`.
    public struct DeadLetter: Codable, Sendable {
        public var at: String
        public var broker: String
        public var trigger: String
        public var eventId: String
        public var eventType: String
        public var eventSource: String
        public var status: Int?
        public var reason: String
        public var sentToSink: Bool
        /// Including `knativeerrorcode`, `knativeerrordest`, `knativeerrordata`.
        public var extensions: [String: String]
    }

    /// `GET /api/v1/calls/ID`.
    public struct AsyncCallReport: Codable, Sendable {
        public var id: String
        /// `pending`, `running` or `done`.
        public var state: String
        public var status: Int?
        public var headers: [[String]]?
        /// Base64.
        public var body: String?
        public var completedAt: String?

        public init(id: String, state: String, status: Int? = nil, headers: [[String]]? = nil, body: String? = nil, completedAt: String? = nil) {
            self.id = id
            self.state = state
            self.status = status
            self.headers = headers
            self.body = body
            self.completedAt = completedAt
        }
    }
}
