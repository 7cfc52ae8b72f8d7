import GatehouseOutbound
import NIOCore
import NIOPosix

/// A command's own event loop, made for its calls and shut down when they are done: the CLI uses
/// no process-wide singleton (`MultiThreadedEventLoopGroup.singleton` would live for the whole
/// process with threads nobody stops).
func withCommandEventLoop<T>(_ body: (any EventLoopGroup) async throws -> T) async throws -> T {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    do {
        let result = try await body(group)
        try? await group.shutdownGracefully()
        return result
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
}

/// A `ControlPlaneClient` on the command's own event loop (JWKS fetches while explaining a token),
/// shut down when `body` returns.
func withControlPlaneClient<T>(_ body: (ControlPlaneClient) async throws -> T) async throws -> T {
    try await withCommandEventLoop { group in
        let client = ControlPlaneClient(eventLoopGroup: group)
        do {
            let result = try await body(client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
