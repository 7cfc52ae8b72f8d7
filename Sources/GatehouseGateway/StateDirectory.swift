import Foundation
import GatehouseFunctions
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The state directory (`--state-dir`, default `./.gatehouse`): where a running Gatehouse keeps
/// its lock, the records of its instances and `endpoints.json` with the addresses it bound.
///
/// Holding the lock (an `flock` on `lock`) is what makes it ours: a second `gatehouse up` on the
/// same directory is refused, and the lock goes away with the process however it ends.
public final class StateDirectory: Sendable {
    public let url: URL
    private let lockDescriptor: Int32

    public struct Busy: Error, CustomStringConvertible {
        public let path: String
        public let holder: String?
        public var description: String {
            "another gatehouse\(holder.map { " (pid \($0))" } ?? "") is running with state directory \(path); "
                + "stop it first, or start this one with --state-dir DIR"
        }
    }

    public struct Unusable: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "cannot use state directory \(path): \(reason)" }
    }

    /// Creates the directory owner-only, or checks an existing one (see `StateDirectory+Trust`), and
    /// takes its lock.
    public static func lock(_ url: URL, logger: Logger) throws -> StateDirectory {
        do {
            // Owner-only: it holds instance records (commands) now, and keys and tokens later.
            try FileManager.default.createDirectory(
                at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw Unusable(path: url.path, reason: "\(error.localizedDescription)")
        }
        try checkDirectory(url, logger: logger)
        let lockPath = url.appendingPathComponent("lock").path
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Unusable(path: url.path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: lockPath, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw Busy(path: url.path, holder: holder?.isEmpty == false ? holder : nil)
        }
        let pid = "\(getpid())\n"
        ftruncate(fd, 0)
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        let state = StateDirectory(url: url, lockDescriptor: fd)
        do {
            try checkEntries(in: url, logger: logger)
        } catch {
            state.release()
            throw error
        }
        return state
    }

    private init(url: URL, lockDescriptor: Int32) {
        self.url = url
        self.lockDescriptor = lockDescriptor
    }

    public var instanceRecords: InstanceRecords { InstanceRecords(stateDirectory: url) }

    public var endpointsFile: URL { url.appendingPathComponent("endpoints.json") }

    /// The SQLite database with the applied config and its history.
    public var databasePath: String { url.appendingPathComponent("gatehouse.db").path }

    /// The decision log (`explain --request-id`), apart from the config so traffic never delays an apply.
    public var decisionsPath: String { url.appendingPathComponent("decisions.db").path }

    /// The audit log (hash chain and signed checkpoints), apart from both: see `SQLiteAuditLog`.
    public var auditPath: String { Self.auditPath(in: url) }
    /// Accepted events, their deliveries, fired schedules and async calls (`SQLiteEventStore`).
    public var eventsPath: String { url.appendingPathComponent("events.db").path }
    public static func auditPath(in url: URL) -> String { url.appendingPathComponent("audit.db").path }
    /// The audit signing key and certificate.
    public static func auditDirectory(in url: URL) -> URL { url.appendingPathComponent("audit") }

    /// The key that signs `X-Gatehouse-Assertion`, its certificate, and the one it replaced (`AssertionKeyStore`).
    public static func issuerDirectory(in url: URL) -> URL { url.appendingPathComponent("issuer") }

    /// The login sessions (`sessions.db`) and the keys that seal their cookies (`cookie-keys`): `LoginCookieKeys`.
    public static func loginDirectory(in url: URL) -> URL { url.appendingPathComponent("login") }

    /// The admin API's bearer token, readable by the owner only.
    public static func tokenFile(in url: URL) -> URL { url.appendingPathComponent("admin.token") }

    func writeToken(_ token: AdminToken) throws {
        let path = Self.tokenFile(in: url).path
        let temporary = path + ".new"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Unusable(path: temporary, reason: String(cString: strerror(errno))) }
        let text = token.value + "\n"
        let written = text.withCString { write(fd, $0, strlen($0)) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == text.utf8.count, synced, rename(temporary, path) == 0 else {
            throw Unusable(path: path, reason: "cannot write the admin token: \(String(cString: strerror(errno)))")
        }
    }

    /// The addresses actually bound, for the CLI and for tests that asked for port 0.
    public struct Endpoints: Codable, Sendable, Hashable {
        public var ingress: String
        public var admin: String
        /// The mutual TLS listener (`https://HOST:PORT`).
        public var mesh: String?
        /// The admin API over mutual TLS, when `adminIdentities` are configured.
        public var adminMtls: String?
        public var domain: String
        public var pid: Int32

        public init(ingress: String, admin: String, mesh: String? = nil, domain: String, pid: Int32) {
            self.mesh = mesh
            self.ingress = ingress
            self.admin = admin
            self.domain = domain
            self.pid = pid
        }
    }

    func writeEndpoints(_ endpoints: Endpoints) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(endpoints).write(to: endpointsFile, options: .atomic)
    }

    /// The running Gatehouse's addresses, as a client on this host dials them: a listener bound to
    /// every address (`0.0.0.0`, or `[::]`, dual-stack, as in a pod) is reached on 127.0.0.1 (a pod
    /// may have no IPv6 loopback), a name the admin API's host check accepts.
    public static func readEndpoints(in url: URL) throws -> Endpoints {
        let data = try Data(contentsOf: url.appendingPathComponent("endpoints.json"))
        var endpoints = try JSONDecoder().decode(Endpoints.self, from: data)
        endpoints.ingress = dialable(endpoints.ingress)
        endpoints.admin = dialable(endpoints.admin)
        endpoints.mesh = endpoints.mesh.map(dialable)
        endpoints.adminMtls = endpoints.adminMtls.map(dialable)
        return endpoints
    }

    static func dialable(_ url: String) -> String {
        url.replacingOccurrences(of: "://0.0.0.0:", with: "://127.0.0.1:").replacingOccurrences(of: "://[::]:", with: "://127.0.0.1:")
    }

    /// Removes `endpoints.json` and releases the lock.
    func release() {
        try? FileManager.default.removeItem(at: endpointsFile)
        flock(lockDescriptor, LOCK_UN)
        close(lockDescriptor)
    }
}
