import Synchronization

/// Whether requests join traces at all: on while traces are kept (`up --kept-traces`) or some
/// `Telemetry` exports them. Off, Gatehouse is a plain proxy for trace headers — a caller's pass
/// through to the function untouched, no spans are recorded — and tracing costs nothing per request.
/// Read once per request (a relaxed atomic load); set when a config is installed.
public final class TraceSwitch: Sendable {
    private let state: Atomic<Bool>

    public init(on: Bool = true) {
        state = Atomic(on)
    }

    public var isOn: Bool { state.load(ordering: .relaxed) }

    public func set(_ on: Bool) {
        state.store(on, ordering: .relaxed)
    }
}
