import Synchronization

/// Group commit: writes submitted while a commit runs wait, and go together into the next one —
/// one transaction and one fsync for the whole batch. Nothing waits for more work to arrive
/// (no timer, no sleep): a batch is exactly what was already waiting when the previous commit
/// finished, so a lone caller pays one commit, and under load the batch grows by itself.
///
/// No task is spawned: the caller that finds no commit running leads — it commits its own work
/// with everything waiting, resumes the others with their results, and hands the lead to the
/// first caller that arrived meanwhile (which then commits what has gathered by the time it
/// runs). A leader returns as soon as its own batch is done, never waiting for later ones.
///
/// Cancelling a caller does not withdraw its work: once submitted it is committed (or fails)
/// with its batch, and the caller is told which.
final class GroupCommit<Work: Sendable, Outcome: Sendable>: Sendable {
    /// Commits a batch in one transaction; one result per work item, in order.
    typealias Commit = @Sendable ([Work]) async -> [Result<Outcome, StoreError>]

    private enum Turn: Sendable {
        /// Commit the next batch (own work first).
        case lead
        case done(Result<Outcome, StoreError>)
    }

    private struct Waiter: Sendable {
        let work: Work
        let continuation: CheckedContinuation<Turn, Never>
    }

    private struct State: Sendable {
        var committing = false
        var waiting: [Waiter] = []
    }

    private let state = Mutex(State())

    init() {}

    /// Returns when `work`'s batch is committed (durable, if `commit` makes it so). Every caller
    /// passes the same `commit`; whichever leads the batch runs it.
    func submit(_ work: Work, commit: Commit) async throws(StoreError) -> Outcome {
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let lead = state.withLock { state in
                guard !state.committing else {
                    state.waiting.append(Waiter(work: work, continuation: continuation))
                    return false
                }
                state.committing = true
                return true
            }
            if lead { continuation.resume(returning: .lead) }
        }
        switch turn {
        case .done(let result):
            return try result.get()
        case .lead:
            let others = state.withLock { state in
                defer { state.waiting.removeAll() }
                return state.waiting
            }
            var results = await commit([work] + others.map(\.work))
            if results.count != others.count + 1 {
                // A commit that miscounts is a bug; nobody may be told "stored" on its word.
                results = Array(repeating: .failure(StoreError(.failed, path: "", detail: "group commit returned \(results.count) results for \(others.count + 1) writes")), count: others.count + 1)
            }
            for (waiter, result) in zip(others, results.dropFirst()) {
                waiter.continuation.resume(returning: .done(result))
            }
            let next = state.withLock { state -> Waiter? in
                guard !state.waiting.isEmpty else {
                    state.committing = false
                    return nil
                }
                return state.waiting.removeFirst()
            }
            next?.continuation.resume(returning: .lead)
            return try results[0].get()
        }
    }
}
