import Foundation
import GatehouseCore
import Logging
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// Keeps function instances apart from Gatehouse and from each other (docs/security.md, "Function
/// isolation"). What it can enforce depends on who Gatehouse runs as:
///
/// - **root**: each function runs under a user of its own (`FunctionUsers`), so it cannot read
///   the state directory (the CA key, the admin token) or another function's SVID key, nor signal
///   another function's processes; and its port is reachable only by Gatehouse and itself
///   (`InstancePortFirewall`, when `nft` works), so no local process can skip the gateway.
/// - **another user**: functions run as that user and their ports are open to local processes;
///   `up` says so once, at start.
///
/// Every instance, either way, gets only the environment its spec names (`FunctionEnvironment`).
public final class FunctionSandbox: Sendable {
    private let users: NIOLockedValueBox<FunctionUsers>
    private let firewall: NIOLockedValueBox<InstancePortFirewall?>
    private let stateDirectory: URL
    /// Gatehouse runs as root: per-function users and port rules are possible.
    public let isRoot: Bool

    public init(stateDirectory: URL, isRoot: Bool = geteuid() == 0) {
        self.stateDirectory = stateDirectory
        self.isRoot = isRoot
        users = NIOLockedValueBox(FunctionUsers(range: 61184...65519))
        firewall = NIOLockedValueBox(nil)
    }

    /// Sets the range functions' users come from (the Mesh's `functionUsers`).
    public func useUsers(_ range: ClosedRange<Int>) {
        users.withLockedValue { $0.range = range }
    }

    /// Installs the port rules when running as root. Returns what cannot be enforced, for `up` to
    /// say once (empty when everything is).
    public func setUp() async -> [String] {
        guard isRoot else {
            return ["functions run as this user (uid \(geteuid())), not users of their own, and their ports are reachable by "
                + "every local process: run Gatehouse as root to keep functions apart and reachable only through it (docs/security.md)"]
        }
        let rules = InstancePortFirewall(stateDirectory: stateDirectory)
        do {
            try await rules.install()
            firewall.withLockedValue { $0 = rules }
            return []
        } catch {
            return ["instance ports are reachable by every local process (\(error)); install nftables "
                + "(Debian: apt-get install nftables) to keep them for Gatehouse alone (docs/security.md)"]
        }
    }

    /// Removes the port rules (at shutdown).
    public func tearDown() async {
        let rules = firewall.withLockedValue { rules -> InstancePortFirewall? in
            defer { rules = nil }
            return rules
        }
        await rules?.remove()
    }

    /// The user `spec`'s processes run as; nil when Gatehouse is not root (they run as Gatehouse's).
    func user(for spec: FunctionSpec) throws -> FunctionUser? {
        guard isRoot else { return nil }
        switch users.withLockedValue({ $0.user(for: spec) }) {
        case .success(let user):
            return user
        case .failure(.exhausted):
            throw SandboxFailure(description: "every uid of the Mesh's functionUsers range is taken; widen `functionUsers`")
        case .failure(.insideRange(let id)):
            throw SandboxFailure(description: "runAsUser/runAsGroup \(id) is inside the Mesh's functionUsers range, where it could be "
                + "another function's; choose an id outside it")
        }
    }

    /// `user`'s private home, `STATE_DIR/homes/UID` (0700, the user's), with `tmp/` inside; made
    /// on first use. Only Gatehouse can create entries in `homes/`, so nobody can plant one.
    func home(for user: FunctionUser) throws -> String {
        let homes = stateDirectory.appendingPathComponent("homes")
        let home = homes.appendingPathComponent("\(user.uid)")
        let manager = FileManager.default
        try manager.createDirectory(at: homes, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        for directory in [home, home.appendingPathComponent("tmp")] {
            var info = stat()
            if lstat(directory.path, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR, info.st_uid == user.uid else {
                    throw SandboxFailure(description: "\(directory.path) is not a folder of uid \(user.uid); remove it")
                }
                continue
            }
            try manager.createDirectory(at: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            guard chown(directory.path, user.uid, user.gid) == 0 else {
                throw SandboxFailure(description: "cannot give \(directory.path) to \(user): \(String(cString: strerror(errno)))")
            }
        }
        return home.path
    }

    /// Reserves `port` for Gatehouse and `user` before the instance starts.
    func admit(port: Int, user: FunctionUser?) async throws {
        guard let user, let rules = firewall.withLockedValue({ $0 }) else { return }
        do {
            try await rules.admit(port: port, owner: user.uid)
        } catch {
            throw SandboxFailure(description: "cannot keep port \(port) for Gatehouse: \(error)")
        }
    }

    func withdraw(port: Int, user: FunctionUser?) async {
        guard let user, let rules = firewall.withLockedValue({ $0 }) else { return }
        await rules.withdraw(port: port, owner: user.uid)
    }

    /// Nil when `user` listens on `port` where Gatehouse connects (127.0.0.1), or when not checked;
    /// otherwise the owners found. Another user's process could have bound the port first (it was
    /// free when picked, and the function then fails to bind): requests would go to it instead.
    func foreignListeners(port: Int, user: FunctionUser?) -> [UInt32]? {
        guard let user else { return nil }
        let owners = ListeningSockets.owners(ofPort: port)
        return owners.contains(user.uid) ? nil : owners
    }
}

struct SandboxFailure: Error, CustomStringConvertible {
    let description: String
}

/// Who owns the listening TCP sockets on a port, from `/proc/net/tcp` and `/proc/net/tcp6`.
enum ListeningSockets {
    static func owners(ofPort port: Int) -> [UInt32] {
        (listeners(onPort: port) ?? []).filter { reachesLoopback($0.address) }.map(\.uid)
    }

    /// Whether anything listens on `port`, on any address (yes when the tables cannot be read, so
    /// that nothing is opened on a guess).
    static func anyListener(onPort port: Int) -> Bool {
        listeners(onPort: port).map { !$0.isEmpty } ?? true
    }

    /// Listening sockets on `port`: their local address (as /proc writes it) and owner; nil when
    /// neither table can be read (one alone is missing on a host without IPv6).
    private static func listeners(onPort port: Int) -> [(address: Substring, uid: UInt32)]? {
        var found: [(address: Substring, uid: UInt32)] = []
        var read = false
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = readWhole(table) else { continue }
            read = true
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid …; st 0A is LISTEN.
                guard fields.count > 7, fields[3] == "0A", let colon = fields[1].lastIndex(of: ":"),
                      Int(fields[1][fields[1].index(after: colon)...], radix: 16) == port, let uid = UInt32(fields[7])
                else { continue }
                found.append((fields[1][..<colon], uid))
            }
        }
        return read ? found : nil
    }

    /// Reads to the end: procfs files report size 0, and a busy host's table is many pages long.
    private static func readWhole(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 { return nil }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// 127.0.0.1 and 0.0.0.0; in the IPv6 table `::` and `::ffff:127.0.0.1` (as /proc writes them).
    private static func reachesLoopback(_ address: Substring) -> Bool {
        ["0100007F", "00000000", "00000000000000000000000000000000", "0000000000000000FFFF00000100007F"].contains(address)
    }
}
