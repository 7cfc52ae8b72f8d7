#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time for a record's `start_time` (durations use the monotonic clock).
public enum WallClock {
    /// Nanoseconds since the Unix epoch, without Foundation.
    public static func nanosSinceEpoch() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
