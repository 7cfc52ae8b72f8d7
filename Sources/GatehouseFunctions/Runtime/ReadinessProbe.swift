import NIOCore
import NIOPosix

/// Waits until an instance accepts TCP connections on its port.
///
/// Probes every 1 ms at first, slowing to every 5 ms, so a cold start costs the process's own
/// start-up plus a few milliseconds. A refused connect costs tens of microseconds of CPU, so even
/// a process that takes seconds to start costs little to wait for.
enum ReadinessProbe {
    static func waitUntilAccepting(_ address: SocketAddress, on loop: any EventLoop) async throws {
        var interval = Duration.milliseconds(1)
        while true {
            try Task.checkCancellation()
            if await accepts(address, on: loop) { return }
            try await Task.sleep(for: interval)
            interval = min(interval * 1.25, .milliseconds(5))
        }
    }

    private static func accepts(_ address: SocketAddress, on loop: any EventLoop) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: loop)
                .connectTimeout(.milliseconds(250))
                .connect(to: address)
                .get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}
