import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// The connections one `PostgresConfigStore` queries on: opened when needed, kept while idle (up
/// to `maxIdle`), dropped when they fail. A connection runs one caller's work at a time, so a
/// transaction never interleaves with another's statements.
actor PostgresConnections {
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private var idle: [PostgresConnection] = []
    private var nextID = 1
    private let maxIdle = 4

    init(_ location: PostgresStoreLocation, logger: Logger) throws {
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: try Self.tls(location))
        configuration.options.connectTimeout = .seconds(5)
        self.configuration = configuration
        self.logger = logger
    }

    /// The URL's `sslmode` as postgres-nio's TLS setting. The roots are `sslrootcert`, else the
    /// system's; the name checked (`verify-full`) is the URL's host.
    static func tls(_ location: PostgresStoreLocation) throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        switch location.tls {
        case .disable: return .disable
        case .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let roots = location.rootCertificates, location.tls == .verifyCA || location.tls == .verifyFull {
            tls.trustRoots = .file(roots)
        }
        let context = try NIOSSLContext(configuration: tls)
        return location.tls == .prefer ? .prefer(context) : .require(context)
    }

    /// A new connection of its own, for a caller that keeps it (a change feed's LISTEN).
    func open() async throws -> PostgresConnection {
        nextID += 1
        return try await PostgresConnection.connect(configuration: configuration, id: nextID, logger: logger)
    }

    func take() async throws -> PostgresConnection {
        while let connection = idle.popLast() {
            if !connection.isClosed { return connection }
        }
        return try await open()
    }

    func giveBack(_ connection: PostgresConnection) async {
        guard !connection.isClosed else { return }
        if idle.count < maxIdle {
            idle.append(connection)
        } else {
            try? await connection.close()
        }
    }

    deinit {
        for connection in idle { Self.closeAndKeep(connection) }
    }

    /// Closes `connection` without waiting, holding it until it is closed: postgres-nio requires a
    /// connection to be closed before it is released.
    nonisolated static func closeAndKeep(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    func closeAll() async {
        let connections = idle
        idle = []
        for connection in connections { try? await connection.close() }
    }
}

extension PostgresConnections {
    /// `body` on a connection of the pool. A connection whose work failed is closed, not kept:
    /// it may be in the middle of something (a transaction that did not roll back).
    func with<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await take()
        do {
            let value = try await body(connection)
            await giveBack(connection)
            return value
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
