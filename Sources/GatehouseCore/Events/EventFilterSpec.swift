/// One of a Trigger's `filters` (Knative's "new trigger filters", the CloudEvents Subscriptions
/// API dialect). A Trigger's events must match every filter in its list; its `filter.attributes`
/// count only when the list is empty, as in Knative. Compiled into an `EventFilter`.
public indirect enum EventFilterSpec: Sendable, Hashable {
    /// Every attribute equals its value.
    case exact([String: String])
    /// Every attribute starts with its value.
    case prefix([String: String])
    /// Every attribute ends with its value.
    case suffix([String: String])
    /// Every nested filter matches.
    case all([EventFilterSpec])
    /// At least one nested filter matches.
    case any([EventFilterSpec])
    case not(EventFilterSpec)
    /// A CloudEvents SQL expression, as written (checked when the config is read).
    case cesql(String)
}
