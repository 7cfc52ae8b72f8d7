import GatehouseEvents
import ServiceLifecycle

/// The event machinery that runs in the background — the dispatcher, the PingSource scheduler and
/// the async call runner — as one service: it starts with the others and stops (cancelled, each
/// delivery in flight let finish its attempt or released at the next start) at graceful shutdown.
struct EventsService: Service {
    let dispatcher: EventDispatcher
    let scheduler: PingScheduler
    let calls: AsyncCallRunner

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await dispatcher.run() }
                group.addTask { await scheduler.run() }
                group.addTask { await calls.run() }
            }
        }
    }
}
