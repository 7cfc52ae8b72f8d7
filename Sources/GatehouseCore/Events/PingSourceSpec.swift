/// A Knative `PingSource` (`sources.knative.dev/v1`): an event on a cron schedule, sent to a sink
/// (a Broker or a Function). Fires once per scheduled minute, across restarts.
public struct PingSourceSpec: Sendable, Hashable {
    /// Where a PingSource's events go: a Broker (its events then fan out to Triggers) or a destination.
    public enum Sink: Sendable, Hashable {
        case broker(namespace: String, name: String)
        case destination(EventDestination)
    }

    public var namespace: String
    public var name: String
    /// Five-field cron as written (`*/2 * * * *`), read in `timezone`.
    public var schedule: String
    /// An IANA time zone name; nil: UTC.
    public var timezone: String?
    public var contentType: String?
    /// `data` (as UTF-8) or `dataBase64` (decoded).
    public var data: [UInt8]?
    public var sink: Sink
    /// `ceOverrides.extensions`.
    public var extensions: [String: String]
    public var source: SourceLocation?

    public init(
        namespace: String, name: String, schedule: String, timezone: String? = nil, contentType: String? = nil, data: [UInt8]? = nil,
        sink: Sink, extensions: [String: String] = [:], source: SourceLocation? = nil
    ) {
        self.namespace = namespace
        self.name = name
        self.schedule = schedule
        self.timezone = timezone
        self.contentType = contentType
        self.data = data
        self.sink = sink
        self.extensions = extensions
        self.source = source
    }

    public var reference: String { "\(namespace)/\(name)" }
    /// The events' `source` attribute, as Knative's: `/apis/v1/namespaces/NS/pingsources/NAME`.
    public var eventSource: String { "/apis/v1/namespaces/\(namespace)/pingsources/\(name)" }
}
