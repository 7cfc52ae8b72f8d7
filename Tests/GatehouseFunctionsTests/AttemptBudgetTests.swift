import GatehouseCore
import NIOCore
import Testing

@testable import GatehouseFunctions

@Suite("The attempt budget: Envoy's retry rules, apart from the transport")
struct AttemptBudgetTests {
    @Test("Without a policy: no retries, connect failures tried twice, nothing kept")
    func noPolicy() {
        var budget = AttemptBudget(policy: nil)
        #expect(budget.replay == nil)
        #expect(budget.after(.status(503), retryable: true) == .stop(retryLimitReached: false))
        #expect(budget.after(.reset, retryable: true) == .stop(retryLimitReached: false))
        #expect(budget.connectFailed() == true)
        #expect(budget.connectFailed() == false)
    }

    @Test("Statuses the policy names are retried while retries remain; then URX")
    func statuses() {
        var budget = AttemptBudget(policy: RetryPolicy(attempts: 2, conditions: [.gatewayError]))
        #expect(budget.after(.status(404), retryable: true) == .stop(retryLimitReached: false), "not covered: passed on")
        #expect(budget.after(.status(503), retryable: true) == .retry)
        #expect(budget.after(.status(502), retryable: true) == .retry)
        #expect(budget.after(.status(504), retryable: true) == .stop(retryLimitReached: true))
        #expect(budget.retriesLeft == 0)
    }

    @Test("Nothing is repeated before the request has arrived, or once its body outgrew what is kept")
    func replay() {
        var budget = AttemptBudget(policy: RetryPolicy(attempts: 3, conditions: [.fiveXX]))
        #expect(budget.after(.status(500), retryable: false) == .stop(retryLimitReached: false), "not yet whole: not repeated")
        #expect(budget.retriesLeft == 3)
        budget.keep(ByteBuffer(repeating: 1, count: AttemptBudget.maxReplayBytes))
        #expect(budget.replay?.count == 1)
        budget.keep(ByteBuffer(repeating: 1, count: 1))
        #expect(budget.replay == nil)
        #expect(budget.after(.reset, retryable: true) == .stop(retryLimitReached: false), "a body too large to keep is not retried")
    }

    @Test("A per-try timeout is always retryable; connect failures follow the policy's attempts")
    func timeoutsAndConnects() {
        var budget = AttemptBudget(policy: RetryPolicy(attempts: 3, perTryTimeout: .seconds(1), conditions: [.connectFailure]))
        #expect(budget.perTryTimeout == .seconds(1))
        #expect(budget.after(.perTryTimeout, retryable: true) == .retry)
        #expect(budget.after(.reset, retryable: true) == .stop(retryLimitReached: false), "reset is not among the conditions")
        #expect((0..<3).map { _ in budget.connectFailed() } == [true, true, true])
        #expect(budget.connectFailed() == false, "1 + 3 attempts in all")
    }
}

@Suite("Mirror copies")
struct MirrorHostTests {
    @Test("The shadow host is Envoy's: -shadow after the name, before the port", arguments: [
        ("api.example.com", "api.example.com-shadow"),
        ("hello.default.localhost:8080", "hello.default.localhost-shadow:8080"),
        ("[::1]:9", "[::1]-shadow:9"),
    ])
    func shadowHost(_ authority: String, _ expected: String) {
        #expect(MirrorExchange.shadowAuthority(authority) == expected)
    }
}
