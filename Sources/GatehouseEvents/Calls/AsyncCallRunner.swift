import Foundation
import GatehouseCore
import GatehouseStore
import Logging

/// Runs stored async calls: leases them, sends each through the stages as the caller it came
/// from, keeps the result, and POSTs it to the callback when one was given. A call interrupted by
/// a crash runs again after the restart (at least once, like an event).
public final class AsyncCallRunner: Sendable {
    let calls: AsyncCalls
    let invoker: any EventInvoker
    let owner: String
    let logger: Logger
    /// Calls running at once (default 32).
    let concurrency: Int

    /// A result's body is kept up to this size; past it the result says so (502).
    public static let maxResultBytes = 1 << 20
    static let timeout = Duration.seconds(300)

    public init(calls: AsyncCalls, invoker: any EventInvoker, owner: String, logger: Logger, concurrency: Int = 32) {
        self.calls = calls
        self.invoker = invoker
        self.owner = owner
        self.logger = logger
        self.concurrency = concurrency
    }

    public func run() async {
        let store = calls.broker.store
        let running = RunningCount()
        var lastPrune = Date.distantPast
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let now = calls.broker.now()
                if now.timeIntervalSince(lastPrune) > 60 {
                    lastPrune = now
                    try? await store.prune(now: now)
                }
                let free = concurrency - (await running.value)
                let leased = free > 0 ? ((try? await store.leaseCalls(owner: owner, now: now, leaseFor: Self.timeout * 2, limit: free)) ?? []) : []
                for call in leased {
                    await running.add(1)
                    group.addTask {
                        await self.run(call)
                        await running.add(-1)
                        self.calls.broker.callWakeup.signal()
                    }
                }
                if leased.isEmpty { await calls.broker.callWakeup.wait(timeout: .seconds(1)) }
            }
        }
    }

    private func run(_ call: AsyncCall) async {
        let answer = await invoker.send(OutgoingCall(
            method: call.method, host: call.host, path: call.path, headers: call.headers.map { ($0.name, $0.value) }, body: call.body,
            identity: call.sourcePrincipal, timeout: Self.timeout))
        // Shutting down: left leased, the call runs again at the next start.
        guard !Task.isCancelled else { return }
        let now = calls.broker.now()
        let result: AsyncCallResult
        switch answer {
        case .response(let status, let headers, let body) where body.count <= Self.maxResultBytes:
            result = AsyncCallResult(status: status, headers: headers.map { AsyncCall.Header(name: $0.name, value: $0.value) }, body: body, completedAt: now)
        case .response:
            result = AsyncCallResult(status: 502, headers: [], body: Array("the function's response was larger than \(Self.maxResultBytes) bytes\n".utf8), completedAt: now)
        case .failed(let reason):
            result = AsyncCallResult(status: 504, headers: [], body: Array("no response: \(reason)\n".utf8), completedAt: now)
        }
        do {
            try await calls.broker.store.complete(call: call.id, owner: owner, result: result, keepUntil: now.addingTimeInterval(calls.retention))
        } catch {
            logger.error("async calls: storing a result failed; the call runs again", metadata: ["call": "\(call.id)", "error": "\(error)"])
            return
        }
        if let callback = call.callback, let (host, path) = AsyncCalls.callbackAddress(callback) {
            var headers = result.headers.filter { $0.name.lowercased() == "content-type" }.map { ($0.name, $0.value) }
            headers += [(AsyncCalls.callIdHeader, call.id), (AsyncCalls.callStatusHeader, String(result.status))]
            let answer = await invoker.send(OutgoingCall(host: host, path: path, headers: headers, body: result.body, identity: nil, timeout: .seconds(30)))
            if answer.status.map({ !(200..<300).contains($0) }) ?? true {
                logger.notice("async calls: the callback did not take the result (it stays readable by id)", metadata: [
                    "call": "\(call.id)", "callback_host": "\(host)", "answer": "\(EventDispatcher.describe(answer))"])
            }
        }
    }
}

/// Calls in flight.
actor RunningCount {
    private(set) var value = 0
    func add(_ delta: Int) { value += delta }
}
