import GatehouseStore
import Logging
import ServiceLifecycle

/// Follows the store's change feed and hands every new revision to the controller, which installs
/// what other writers (another `gatehouse` on the same store) committed. Its own commits come by
/// too; the controller already holds them and skips them by revision.
///
/// When the feed fails (the store unreadable for a while), it is opened again after
/// `retryDelay`, from the revision the controller holds: nothing is skipped.
struct StoreFollower: Service {
    let store: any ConfigStore
    let controller: ConfigController
    let logger: Logger
    var retryDelay: Duration = .seconds(1)
    /// How soon a stored config that did not become ready is tried again (doubling while it
    /// keeps failing, up to a minute).
    var installRetryInterval: Duration = .seconds(2)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await follow() }
                group.addTask {
                    var delay = installRetryInterval
                    while !Task.isCancelled {
                        try? await Task.sleep(for: delay)
                        delay = await controller.retryIfBehind() ? min(delay * 2, .seconds(60)) : installRetryInterval
                    }
                }
            }
        }
    }

    private func follow() async {
        while !Task.isCancelled {
            do {
                for try await batch in store.changes(after: await controller.storeRevision) {
                    await controller.follow(batch.revision)
                }
                return
            } catch is CancellationError {
                return
            } catch {
                logger.warning("the store's change feed failed; following it again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: retryDelay)
            }
        }
    }
}
