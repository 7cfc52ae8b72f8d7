/// One CloudEvent (CloudEvents 1.0): its context attributes and its data, as Gatehouse stores and
/// delivers it. Attribute values are kept as the strings they travel as in HTTP's binary mode
/// (`ce-` headers), so an event read in structured mode and delivered in binary mode keeps them.
public struct CloudEvent: Sendable, Hashable {
    /// Required: unique per `source`.
    public var id: String
    /// Required: a URI-reference naming where the event happened.
    public var source: String
    /// Required: `1.0` (the only version Gatehouse accepts).
    public var specVersion: String
    /// Required: e.g. `com.example.order.created`.
    public var type: String
    public var dataContentType: String?
    public var dataSchema: String?
    public var subject: String?
    /// RFC 3339, as sent.
    public var time: String?
    /// Extension attributes by lowercase name (`traceparent`, `knativebrokerttl`, …).
    public var extensions: [String: String]
    /// The payload bytes (for JSON in structured mode: the `data` member re-serialised;
    /// `data_base64` decoded).
    public var data: [UInt8]?

    public init(
        id: String, source: String, specVersion: String = "1.0", type: String, dataContentType: String? = nil,
        dataSchema: String? = nil, subject: String? = nil, time: String? = nil, extensions: [String: String] = [:], data: [UInt8]? = nil
    ) {
        self.id = id
        self.source = source
        self.specVersion = specVersion
        self.type = type
        self.dataContentType = dataContentType
        self.dataSchema = dataSchema
        self.subject = subject
        self.time = time
        self.extensions = extensions
        self.data = data
    }

    /// The value of a context attribute by its CloudEvents name (`id`, `type`, `datacontenttype`,
    /// an extension, …); nil when the event does not have it. What filters read.
    public func attribute(_ name: String) -> String? {
        switch name {
        case "id": id
        case "source": source
        case "specversion": specVersion
        case "type": type
        case "datacontenttype": dataContentType
        case "dataschema": dataSchema
        case "subject": subject
        case "time": time
        default: extensions[name]
        }
    }

    /// The CloudEvents attribute names that are not extensions.
    public static let contextAttributeNames: Set<String> = [
        "id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time",
    ]
}
