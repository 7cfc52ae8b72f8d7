import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// An existing state directory is checked before anything in it is trusted: whoever can write it
/// can replace the admin token, the CA's key or the config; whoever can read it can become admin.
///
/// - The directory and every sensitive entry must belong to the user running Gatehouse (its
///   effective uid): otherwise start is refused, naming the path, its owner and the fix.
/// - A sensitive entry must not be a symbolic link (it could point anywhere): refused too.
/// - Group or other access is repaired — files to owner-only, directories to owner-only, except
///   that the state directory and `identities/` may stay traversable (0711) so a function running
///   under its own uid can reach its own identity folder. Each repair is logged once, with the
///   old and new mode. Nothing inside `identities/` is touched: its folders belong to functions.
extension StateDirectory {
    /// Why an entry of the state directory is not trusted; nothing was started.
    public struct Untrusted: Error, CustomStringConvertible {
        public let path: String
        public let problem: String
        public let fix: String
        public var description: String { "refusing to use \(path): \(problem); \(fix)" }
    }

    /// A change made to an entry's mode, for the log.
    struct Repair: Equatable {
        let path: String
        let old: mode_t
        let new: mode_t
    }

    /// Files directly in the state directory that hold secrets or the config.
    static let sensitiveFiles = ["admin.token", "admin.token.new"] + ["gatehouse.db", "decisions.db", "audit.db"].flatMap { name in
        ["", "-journal", "-wal", "-shm"].map { name + $0 }
    }
    /// Folders whose whole tree is sensitive: the CA's keys, gateway credentials, instance records,
    /// the audit signing key, the assertion signing keys, the login sessions and their keys.
    static let sensitiveTrees = ["ca", "credentials", "instances", "audit", "issuer", "login"]

    /// Checks the directory itself (before the lock is taken in it).
    static func checkDirectory(_ url: URL, logger: Logger) throws {
        var info = stat()
        guard stat(url.path, &info) == 0 else {
            throw Unusable(path: url.path, reason: String(cString: strerror(errno)))
        }
        try checkOwner(url.path, info)
        try repair(url.path, info, allowed: 0o711, logger: logger)
    }

    /// Checks the sensitive entries; called with the lock held, so no other Gatehouse changes them.
    static func checkEntries(in url: URL, logger: Logger) throws {
        for name in sensitiveFiles {
            try checkEntry(url.appendingPathComponent(name).path, logger: logger, recursive: false)
        }
        for name in sensitiveTrees {
            try checkEntry(url.appendingPathComponent(name).path, logger: logger, recursive: true)
        }
        // Traversable for the functions' own uids; its contents are theirs.
        let identities = url.appendingPathComponent("identities").path
        var info = stat()
        guard lstat(identities, &info) == 0 else { return }
        try refuseLink(identities, info)
        try checkOwner(identities, info)
        try repair(identities, info, allowed: 0o711, logger: logger)
    }

    /// A config database outside the state directory (`up --store FILE`), shared with other
    /// gatehouse processes: checked as `gatehouse.db` is (owner, no link, owner-only), with its
    /// journal files.
    static func checkStore(_ path: String, logger: Logger) throws {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            try checkEntry(path + suffix, logger: logger, recursive: false)
        }
    }

    private static func checkEntry(_ path: String, logger: Logger, recursive: Bool) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // not there yet: Gatehouse creates it owner-only
        try refuseLink(path, info)
        try checkOwner(path, info)
        let isDirectory = info.st_mode & S_IFMT == S_IFDIR
        try repair(path, info, allowed: isDirectory ? 0o700 : 0o600, logger: logger)
        guard recursive, isDirectory else { return }
        for child in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            try checkEntry(path + "/" + child, logger: logger, recursive: true)
        }
    }

    private static func refuseLink(_ path: String, _ info: stat) throws {
        guard info.st_mode & S_IFMT == S_IFLNK else { return }
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
        throw Untrusted(
            path: path, problem: "it is a symbolic link (to \(target)), and Gatehouse does not follow links for its keys, tokens and databases",
            fix: "replace the link with the file itself (`cp --remove-destination \(target) \(path)`), or name the file's own path in the config")
    }

    private static func checkOwner(_ path: String, _ info: stat) throws {
        let me = geteuid()
        guard info.st_uid != me else { return }
        throw Untrusted(
            path: path, problem: "it is owned by \(userName(info.st_uid)), not by \(userName(me)) who runs gatehouse, so that user could change it",
            fix: "run `chown -R \(me) \(path)` if it is yours, run gatehouse as its owner, or start with another --state-dir")
    }

    /// Takes away what `allowed` does not grant; only group and other bits are ever changed.
    private static func repair(_ path: String, _ info: stat, allowed: mode_t, logger: Logger) throws {
        let old = info.st_mode & 0o7777
        let new = old & (0o7700 | allowed)
        guard new != old else { return }
        guard chmod(path, new) == 0 else {
            throw Unusable(path: path, reason: "it is accessible to other users (mode \(octal(old))) and cannot be made private: \(String(cString: strerror(errno)))")
        }
        logger.warning(
            "repaired the mode of \(path) from \(octal(old)) to \(octal(new)): other users could reach it",
            metadata: ["path": "\(path)", "old_mode": "\(octal(old))", "new_mode": "\(octal(new))"])
    }

    static func octal(_ mode: mode_t) -> String { "0" + String(mode, radix: 8) }

    private static func userName(_ uid: uid_t) -> String {
        if let entry = getpwuid(uid), let name = entry.pointee.pw_name { return "uid \(uid) (\(String(cString: name)))" }
        return "uid \(uid)"
    }
}
