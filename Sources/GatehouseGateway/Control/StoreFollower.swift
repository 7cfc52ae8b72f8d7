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

    func run() async throws {
        await cancelWhenGracefulShutdown {
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
}
