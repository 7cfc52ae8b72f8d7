import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Finds a command in `PATH` as another user would: only files that user may execute, in
/// directories that user may search.
///
/// `setpriv` searches `PATH` itself, but before the exec that drops root's capabilities: it
/// would pick `/root/.pyenv/shims/python3` (searchable by root alone), and the unprivileged
/// interpreter then cannot read the script. So the path is settled here, by mode bits, and
/// `setpriv` is given a full path.
enum ExecutableLookup {
    static func find(_ command: String, path: String, for user: FunctionUser) -> String? {
        for directory in path.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = "\(directory)/\(command)"
            if isExecutable(candidate, by: user) { return candidate }
        }
        return nil
    }

    /// The file is a regular file `user` may execute (and read: scripts are read by their
    /// interpreter), and every directory above it is searchable by `user`.
    static func isExecutable(_ file: String, by user: FunctionUser) -> Bool {
        var info = stat()
        guard stat(file, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
              allows(info, user, read: true, execute: true) else { return false }
        var directory = URL(fileURLWithPath: file).deletingLastPathComponent()
        while true {
            guard stat(directory.path, &info) == 0, allows(info, user, read: false, execute: true) else { return false }
            if directory.path == "/" { return true }
            directory = directory.deletingLastPathComponent()
        }
    }

    /// Whether `user` may enter `directory` (and every directory above it).
    static func canEnter(_ directory: String, by user: FunctionUser) -> Bool {
        var url = URL(fileURLWithPath: directory)
        var info = stat()
        while true {
            guard stat(url.path, &info) == 0, allows(info, user, read: false, execute: true) else { return false }
            if url.path == "/" { return true }
            url = url.deletingLastPathComponent()
        }
    }

    private static func allows(_ info: stat, _ user: FunctionUser, read: Bool, execute: Bool) -> Bool {
        let mode = info.st_mode
        let (r, x): (mode_t, mode_t) =
            info.st_uid == user.uid ? (S_IRUSR, S_IXUSR) : info.st_gid == user.gid ? (S_IRGRP, S_IXGRP) : (S_IROTH, S_IXOTH)
        return (!read || mode & r != 0) && (!execute || mode & x != 0)
    }
}
