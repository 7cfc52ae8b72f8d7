/// A value set once and awaited until then: what a service learns only once it runs (the port it
/// bound) for another that reports it.
actor Promised<Value: Sendable> {
    private var result: Value?
    private var waiters: [CheckedContinuation<Value, Never>] = []

    func fulfill(_ value: Value) {
        guard result == nil else { return }
        result = value
        for waiter in waiters { waiter.resume(returning: value) }
        waiters = []
    }

    var value: Value {
        get async {
            if let result { return result }
            return await withCheckedContinuation { waiters.append($0) }
        }
    }
}
