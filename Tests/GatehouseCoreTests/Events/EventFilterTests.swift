import GatehouseCore
import Testing

/// Trigger filters with Knative's semantics (`pkg/eventfilter`): what passes, what fails, and
/// what says nothing.
@Suite("Event filters")
struct EventFilterTests {
    static let event = CloudEvent(
        id: "1", source: "/orders/eu", type: "com.example.order.created", subject: "order-42",
        extensions: ["region": "eu-west", "empty": ""])

    static func matches(attributes: [String: String] = [:], _ filters: [EventFilterSpec] = []) -> Bool {
        EventFilter(attributes: attributes, filters: filters).matches(event)
    }

    @Test("filter.attributes: exact values, \"\" for any non-empty value, missing never matches", arguments: [
        ([:], true),
        (["type": "com.example.order.created"], true),
        (["type": "com.example.order.created", "source": "/orders/eu"], true),
        (["type": "com.example.order.deleted"], false),
        (["region": ""], true),
        (["subject": ""], true),
        (["dataschema": ""], false),
        (["missing": ""], false),
        (["empty": ""], false),
        (["missing": "x"], false),
    ])
    func attributes(attributes: [String: String], expected: Bool) {
        #expect(Self.matches(attributes: attributes) == expected)
    }

    @Test("The Subscriptions API dialects", arguments: [
        ([EventFilterSpec.exact(["type": "com.example.order.created"])], true),
        ([.exact(["type": "com.example.order"])], false),
        ([.prefix(["type": "com.example."])], true),
        ([.prefix(["type": "org."])], false),
        ([.suffix(["type": ".created"])], true),
        ([.suffix(["source": "/us"])], false),
        ([.prefix(["missing": "x"])], false),
        ([.exact(["type": "com.example.order.created"]), .prefix(["source": "/orders/"])], true),
        ([.exact(["type": "com.example.order.created"]), .prefix(["source": "/users/"])], false),
        ([.all([.prefix(["type": "com."]), .suffix(["type": ".created"])])], true),
        ([.all([.prefix(["type": "com."]), .suffix(["type": ".deleted"])])], false),
        ([.any([.exact(["region": "us-east"]), .exact(["region": "eu-west"])])], true),
        ([.any([.exact(["region": "us-east"]), .exact(["region": "ap-south"])])], false),
        ([.not(.exact(["region": "us-east"]))], true),
        ([.not(.exact(["region": "eu-west"]))], false),
        ([.cesql("region LIKE 'eu-%' AND subject = 'order-42'")], true),
        ([.cesql("missing = 'x'")], false),
        ([.not(.cesql("missing = 'x'"))], true),
    ])
    func dialects(filters: [EventFilterSpec], expected: Bool) {
        #expect(Self.matches(filters) == expected)
    }

    @Test("Knative skips what it cannot build: empty entries, empty values, empty lists say nothing", arguments: [
        ([EventFilterSpec.exact([:])], true),
        ([.exact(["type": ""])], true),
        ([.prefix(["type": ""])], true),
        ([.all([])], true),
        ([.any([])], true),
        ([.cesql("")], true),
        ([.not(.all([]))], true),
        // `not` of a filter that says nothing says nothing, not "fail".
        ([.not(.any([.all([])]))], true),
        // A skipped entry does not hide a failing one.
        ([.exact([:]), .exact(["type": "other"])], false),
        // An `all` whose last filter says nothing answers "nothing": `not` of it lets the event through.
        ([.not(.all([.exact(["type": "com.example.order.created"]), .not(.all([]))]))], true),
        ([.not(.all([.exact(["type": "com.example.order.created"]), .exact(["region": "eu-west"])]))], false),
    ])
    func skipped(filters: [EventFilterSpec], expected: Bool) {
        #expect(Self.matches(filters) == expected)
    }

    @Test("filter.attributes are ignored when filters is set, as Knative's broker does")
    func filtersWin() {
        #expect(Self.matches(attributes: ["type": "other"], [.prefix(["type": "com."])]))
        #expect(!Self.matches(attributes: ["type": "com.example.order.created"], [.prefix(["type": "org."])]))
        let trigger = TriggerSpec(
            namespace: "shop", name: "t", broker: "default", attributes: ["type": "other"], filters: [.exact(["region": "eu-west"])],
            subscriber: EventDestination(.function(namespace: "shop", name: "f", path: "/")))
        #expect(EventFilter(trigger: trigger).matches(Self.event))
    }

    @Test("An expression that does not compile never matches (the config refuses it first)")
    func invalidExpression() {
        #expect(!Self.matches([.cesql("type ==")]))
        #expect(EventFilter().isEmpty && EventFilter(filters: [.all([])]).isEmpty && !EventFilter(attributes: ["type": ""]).isEmpty)
    }
}
