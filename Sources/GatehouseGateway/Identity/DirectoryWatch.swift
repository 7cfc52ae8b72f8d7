import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Tells when the entries of a directory change (created, written and closed, renamed into or out
/// of it, deleted), through Linux's inotify: the kernel wakes us, nothing polls. The inotify
/// descriptor is read by a NIO channel on `eventLoop`, so no thread waits on it.
///
/// `onChange` runs on the event loop, once per read of events (a burst of renames is usually
/// one call); it only says "look again", never what changed. Where inotify is unavailable (not
/// Linux, or the per-user watch limit reached) `start` returns nil and the caller falls back to
/// looking at an interval.
final class DirectoryWatch: Sendable {
    private let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func start(
        _ path: String, on eventLoop: any EventLoop, logger: Logger, onChange: @escaping @Sendable () -> Void
    ) async -> DirectoryWatch? {
        #if canImport(Glibc)
        let descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else {
            logger.warning("cannot watch \(path) (inotify: \(String(cString: strerror(errno))))")
            return nil
        }
        let mask = UInt32(IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)
        guard inotify_add_watch(descriptor, path, mask) >= 0 else {
            logger.warning("cannot watch \(path) (inotify: \(String(cString: strerror(errno))))")
            close(descriptor)
            return nil
        }
        do {
            let channel = try await NIOPipeBootstrap(group: eventLoop)
                // One read must hold at least one whole event (16 bytes + a name of up to 255).
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 8192))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Events(onChange: onChange)) }
                }
                .takingOwnershipOfDescriptor(input: descriptor)
                .get()
            return DirectoryWatch(channel: channel)
        } catch {
            logger.warning("cannot watch \(path): \(error)")
            close(descriptor)
            return nil
        }
        #else
        return nil
        #endif
    }

    /// Stops watching and closes the descriptor.
    func stop() async {
        try? await channel.close()
    }

    private final class Events: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let onChange: @Sendable () -> Void

        init(onChange: @escaping @Sendable () -> Void) {
            self.onChange = onChange
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            onChange()
        }
    }
}
