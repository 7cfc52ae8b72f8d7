import GatehouseStore
import GatehouseTelemetry
import Logging
import ServiceLifecycle
import UnixSignals

/// `SIGHUP` re-reads the `-f` paths and applies them, exactly as `gatehouse apply -f` would.
struct ReloadOnHangup: Service {
    let controller: ConfigController
    let files: [String]
    let logger: Logger
    /// Each change is written to the audit log (credential `local`).
    var audit: AuditTrail?

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
                    if let audit, let event = AuditEvent.adminChange(summary, operation: "apply", origin: .local("SIGHUP"), files: files) {
                        do { try await audit.record(event) } catch { logger.error("SIGHUP: the change was applied, but its audit record could not be written: \(error)") }
                    }
                    let changed = summary.items.filter { $0.result != "unchanged" }
                    logger.notice("SIGHUP: re-read \(files.joined(separator: " ")); \(changed.count) resource(s) changed")
                } catch {
                    logger.error("SIGHUP: the running configuration was kept; \(error)")
                }
            }
        }
    }
}
