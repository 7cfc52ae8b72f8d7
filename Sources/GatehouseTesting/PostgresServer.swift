import Foundation

/// A real PostgreSQL for tests: a cluster made with `initdb` in a temporary directory, served by
/// `postgres` on a free loopback port (`listen_addresses=127.0.0.1`, its socket in that
/// directory), with a superuser `gatehouse` who logs in with a password (SCRAM). Each test takes
/// a fresh database of its own (`makeDatabase`).
///
/// PostgreSQL refuses to run as root: as root, the directory is given to the `postgres` system
/// user and `initdb` and `postgres` run as it (`setpriv`, which execs, so the pid kept is the
/// server's own). As anyone else they run as the caller. `stop()` ends the server by that pid.
public final class PostgresServer: @unchecked Sendable {
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    public let port: Int
    public let user = "gatehouse"
    /// Random per cluster; what `--store-password-file` or `PGPASSWORD` would hold.
    public let password: String
    public let directory: URL
    /// With TLS (`start(tlsName:)`): the server's self-signed certificate, the `sslrootcert` that verifies it.
    public private(set) var certificate: URL?
    private let process: Process
    private let binaries: URL

    /// One server for the whole test process, started on first use and stopped at its exit.
    public static func shared() throws -> PostgresServer { try sharedServer.get() }

    private static let sharedServer: Result<PostgresServer, any Error> = {
        let result = Result { try PostgresServer.start() }
        if case .success = result { atexit { if case .success(let server) = PostgresServer.sharedServer { server.stop() } } }
        return result
    }()

    /// The newest installed PostgreSQL's binaries (`GATEHOUSE_POSTGRES_BIN` overrides).
    public static func binaries() throws -> URL {
        if let configured = ProcessInfo.processInfo.environment["GATEHOUSE_POSTGRES_BIN"] { return URL(fileURLWithPath: configured) }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let newest = versions.compactMap(Int.init).sorted().last(where: {
            FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/initdb")
        }) else {
            throw Unavailable(description: "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)")
        }
        return URL(fileURLWithPath: "/usr/lib/postgresql/\(newest)/bin")
    }

    /// Makes a cluster and starts it; returns once it accepts connections. With `tlsName`, it
    /// offers TLS with a self-signed certificate for that DNS name (made with `openssl`).
    public static func start(tlsName: String? = nil) throws -> PostgresServer {
        let binaries = try binaries()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let password = UUID().uuidString
        let passwordFile = directory.appendingPathComponent("password")
        try Data(password.utf8).write(to: passwordFile)
        if getuid() == 0 {
            guard let owner = getpwnam("postgres") else { throw Unavailable(description: "running as root, and there is no postgres user to run PostgreSQL as") }
            for path in [directory.path, passwordFile.path] { chown(path, owner.pointee.pw_uid, owner.pointee.pw_gid) }
        }
        let data = directory.appendingPathComponent("data").path
        let initdb = try run(binaries.appendingPathComponent("initdb"), [
            "-D", data, "-U", "gatehouse", "--pwfile=\(passwordFile.path)", "--auth=scram-sha-256", "--no-sync",
            "--no-locale", "-E", "UTF8",
        ], log: directory.appendingPathComponent("initdb.log"))
        initdb.waitUntilExit()
        guard initdb.terminationStatus == 0 else {
            throw Unavailable(description: "initdb failed: \(log(directory, "initdb.log"))")
        }
        var tlsArguments: [String] = []
        var certificate: URL?
        if let tlsName {
            let (cert, key) = try makeCertificate(for: tlsName, in: directory)
            tlsArguments = ["-c", "ssl=on", "-c", "ssl_cert_file=\(cert.path)", "-c", "ssl_key_file=\(key.path)"]
            certificate = cert
        }
        for _ in 0..<3 {
            let port = try LoopbackPort.free()
            let server = try run(binaries.appendingPathComponent("postgres"), [
                "-D", data, "-p", String(port), "-k", directory.path, "-c", "listen_addresses=127.0.0.1",
                // Not under test here, and slow on a shared CI disk.
                "-c", "fsync=off",
            ] + tlsArguments, log: directory.appendingPathComponent("postgres.log"))
            let started = PostgresServer(port: port, password: password, directory: directory, process: server, binaries: binaries)
            started.certificate = certificate
            if started.waitUntilReady() { return started }
            started.stop(removing: false)
        }
        throw Unavailable(description: "postgres did not start: \(log(directory, "postgres.log"))")
    }

    /// A P-256 self-signed certificate for `name` (DNS SAN), its key 0600 and, as root, the
    /// `postgres` user's (PostgreSQL refuses a key others may read).
    private static func makeCertificate(for name: String, in directory: URL) throws -> (URL, URL) {
        let cert = directory.appendingPathComponent("server.crt"), key = directory.appendingPathComponent("server.key")
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key.path, "-out", cert.path, "-days", "2", "-subj", "/CN=\(name)", "-addext", "subjectAltName=DNS:\(name)",
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw Unavailable(description: "openssl could not make the server's certificate") }
        chmod(key.path, 0o600)
        chmod(cert.path, 0o644)
        if getuid() == 0, let owner = getpwnam("postgres") {
            for path in [cert.path, key.path] { chown(path, owner.pointee.pw_uid, owner.pointee.pw_gid) }
        }
        return (cert, key)
    }

    private init(port: Int, password: String, directory: URL, process: Process, binaries: URL) {
        self.port = port
        self.password = password
        self.directory = directory
        self.process = process
        self.binaries = binaries
    }

    /// `postgres://gatehouse@127.0.0.1:PORT/DATABASE`: no password in it, as Gatehouse wants.
    public func url(database: String) -> String { "postgres://\(user)@127.0.0.1:\(port)/\(database)" }

    /// A new, empty database; its name.
    public func makeDatabase() throws -> String {
        let name = "gh_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try sql("CREATE DATABASE \(name)")
        return name
    }

    /// Runs `statement` as the superuser (over TCP, with the password), in `database`; what it
    /// printed (rows as `a|b`, one a line).
    @discardableResult
    public func sql(_ statement: String, database: String = "postgres") throws -> String {
        let psql = Process()
        psql.executableURL = binaries.appendingPathComponent("psql")
        psql.arguments = ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", statement]
        psql.environment = ["PGPASSWORD": password, "PATH": "/usr/bin:/bin"]
        let errors = Pipe(), output = Pipe()
        psql.standardError = errors
        psql.standardOutput = output
        try psql.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        psql.waitUntilExit()
        guard psql.terminationStatus == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw Unavailable(description: "psql \(statement): \(message)")
        }
        return printed.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Fast shutdown (SIGINT), SIGKILL if it is still there after 10 s; then the directory goes.
    public func stop() { stop(removing: true) }

    private func stop(removing: Bool) {
        if process.isRunning {
            kill(process.processIdentifier, SIGINT)
            for _ in 0..<1_000 where process.isRunning { usleep(10_000) }
            LoopbackPort.kill(process)
        }
        if removing { try? FileManager.default.removeItem(at: directory) }
    }

    /// Until `postmaster.pid` says `ready` (up to 30 s), or the server exits (its port was taken).
    private func waitUntilReady() -> Bool {
        let pidFile = directory.appendingPathComponent("data/postmaster.pid")
        for _ in 0..<1_500 where process.isRunning {
            if let text = try? String(contentsOf: pidFile, encoding: .utf8), text.contains("ready"),
               text.contains("\n\(port)\n") { return true }
            usleep(20_000)
        }
        return false
    }

    /// `tool` with `arguments`, as the postgres user when this process is root; output to `log`.
    private static func run(_ tool: URL, _ arguments: [String], log: URL) throws -> Process {
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        if getuid() == 0 {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=postgres", "--regid=postgres", "--init-groups", tool.path] + arguments
        } else {
            process.executableURL = tool
            process.arguments = arguments
        }
        process.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
        let output = try FileHandle(forWritingTo: log)
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    private static func log(_ directory: URL, _ name: String) -> String {
        (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8))?.suffix(2_000).description ?? "(no log)"
    }
}
