/// A Trigger's (or an EventPolicy's) filter, compiled once from its spec and asked per event.
///
/// Knative's semantics exactly (`pkg/eventfilter`): each filter passes, fails, or has nothing to
/// say (an empty entry, `not` of an empty entry, a filter with an empty value — Knative skips
/// those), and an event is delivered unless something fails. When a Trigger has `filters`, its
/// `filter.attributes` are ignored, as Knative's broker does.
public struct EventFilter: Sendable, Hashable {
    indirect enum Node: Sendable, Hashable {
        /// `filter.attributes`: equal values; "" means present with a non-empty value.
        case attributes([String: String])
        case exact([String: String])
        case prefix([String: String])
        case suffix([String: String])
        case all([Node])
        case any([Node])
        case not(Node)
        case cesql(CESQLExpression)
        /// Says nothing (Knative's `NoFilter`).
        case noFilter
        /// Never passes: an expression that did not compile (the config refuses those first).
        case invalid
    }

    enum Outcome: Hashable {
        case pass, fail, none
    }

    let root: Node

    /// `filter.attributes` apply only when `filters` is empty (Knative ignores them otherwise).
    public init(attributes: [String: String] = [:], filters: [EventFilterSpec] = []) {
        if !filters.isEmpty {
            root = Self.all(filters.compactMap(Self.compile))
        } else {
            root = attributes.isEmpty ? .noFilter : .attributes(attributes)
        }
    }

    public init(trigger: TriggerSpec) {
        self.init(attributes: trigger.attributes, filters: trigger.filters)
    }

    /// Whether the event goes through: no filter fails.
    public func matches(_ event: CloudEvent) -> Bool {
        Self.evaluate(root, event) != .fail
    }

    /// True when it lets every event through (no filter to run).
    public var isEmpty: Bool { root == .noFilter || root == .all([]) }

    /// Knative's materialisation: nil where Knative builds no filter at all (an empty entry, an
    /// empty value, an empty list — it skips those), a node otherwise.
    private static func compile(_ spec: EventFilterSpec) -> Node? {
        switch spec {
        case .exact(let values):
            return values.isEmpty || values.values.contains("") ? nil : .exact(values)
        case .prefix(let values):
            return values.isEmpty || values.values.contains("") ? nil : .prefix(values)
        case .suffix(let values):
            return values.isEmpty || values.values.contains("") ? nil : .suffix(values)
        case .all(let specs):
            return specs.isEmpty ? nil : all(specs.compactMap(compile))
        case .any(let specs):
            if specs.isEmpty { return nil }
            let nodes = specs.compactMap(compile)
            return nodes.count == 1 ? nodes[0] : .any(nodes)
        case .not(let inner):
            return .not(compile(inner) ?? .noFilter)
        case .cesql(let text):
            if text.isEmpty { return nil }
            guard let expression = try? CESQLExpression(parsing: text) else { return .invalid }
            return .cesql(expression)
        }
    }

    /// One node stands for itself; none or several make an `all` (an empty one says nothing).
    private static func all(_ nodes: [Node]) -> Node {
        nodes.count == 1 ? nodes[0] : .all(nodes)
    }

    private static func evaluate(_ node: Node, _ event: CloudEvent) -> Outcome {
        switch node {
        case .noFilter:
            return .none
        case .invalid:
            return .fail
        case .attributes(let values):
            for (name, value) in values {
                // Knative: missing, or "" where any value was asked for, fails; else values must be equal.
                guard let actual = event.attribute(name), !(value.isEmpty && actual.isEmpty) else { return .fail }
                if !value.isEmpty, actual != value { return .fail }
            }
            return .pass
        case .exact(let values):
            return compare(values, event) { $0 == $1 }
        case .prefix(let values):
            return compare(values, event) { $0.hasPrefix($1) }
        case .suffix(let values):
            return compare(values, event) { $0.hasSuffix($1) }
        case .all(let nodes):
            var outcome = Outcome.none
            for node in nodes {
                outcome = evaluate(node, event)
                if outcome == .fail { return .fail }
            }
            // As Knative's: the last filter's answer (a trailing empty one says nothing).
            return outcome
        case .any(let nodes):
            var outcome = Outcome.none
            for node in nodes {
                outcome = evaluate(node, event)
                if outcome == .pass { return .pass }
            }
            return outcome
        case .not(let inner):
            switch evaluate(inner, event) {
            case .pass: return .fail
            case .fail: return .pass
            case .none: return .none
            }
        case .cesql(let expression):
            return expression.matches(event) ? .pass : .fail
        }
    }

    private static func compare(_ values: [String: String], _ event: CloudEvent, _ test: (String, String) -> Bool) -> Outcome {
        for (name, value) in values {
            guard let actual = event.attribute(name), test(actual, value) else { return .fail }
        }
        return .pass
    }
}
