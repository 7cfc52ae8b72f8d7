import NIOCore
import NIOPosix

/// Waits until an instance accepts TCP connections on its port.
///
/// Probes every 2 ms at first, so a cold start costs the process's own start-up plus about that;
/// slows to 25 ms for processes that take long, to keep the cost of waiting small.
enum ReadinessProbe {
    static func waitUntilAccepting(_ address: SocketAddress, on loop: any EventLoop) async throws {
        var interval = Duration.milliseconds(2)
        while true {
            try Task.checkCancellation()
            if await accepts(address, on: loop) { return }
            try await Task.sleep(for: interval)
            interval = min(interval * 1.25, .milliseconds(25))
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
