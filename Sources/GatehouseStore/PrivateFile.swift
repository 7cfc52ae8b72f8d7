import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Database files are created owner-only before SQLite opens them: SQLite would create them
/// world-readable (0644 less the umask), and its journal files copy the database's mode.
enum PrivateFile {
    static func create(_ path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw StoreError(.failed, path: path, detail: String(cString: strerror(errno)))
        }
        close(fd)
    }
}
