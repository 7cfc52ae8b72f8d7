import Logging
import ServiceLifecycle
import UnixSignals

/// `SIGHUP` re-reads the `-f` paths and applies them, exactly as `gatehouse apply -f` would.
struct ReloadOnHangup: Service {
    let controller: ConfigController
    let files: [String]
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                guard !files.isEmpty else {
                    logger.notice("SIGHUP: gatehouse up was started without -f; nothing to re-read")
                    continue
                }
                do {
                    let summary = try await controller.reload(files: files, actor: "SIGHUP")
                    let changed = summary.items.filter { $0.result != "unchanged" }
                    logger.notice("SIGHUP: re-read \(files.joined(separator: " ")); \(changed.count) resource(s) changed")
                } catch {
                    logger.error("SIGHUP: the running configuration was kept; \(error)")
                }
            }
        }
    }
}
