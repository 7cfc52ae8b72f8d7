import Foundation

/// Where a shared config store lives: `postgres://USER@HOST:PORT/DB` (or `postgresql://`), and the
/// password, which is never part of the URL so that nothing that prints the URL can leak it.
///
/// `description` is the URL without any password: what logs and error messages name.
public struct PostgresStoreLocation: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    /// From `--store-password-file` or `PGPASSWORD`; nil when the server trusts the connection.
    var password: String?
    /// libpq's `sslmode` (`?sslmode=verify-full`), and the roots that verify the server (`sslrootcert`).
    public var tls: TLSMode = .prefer
    public var rootCertificates: String?

    /// libpq's modes, with its meaning: `prefer` (the default) uses TLS when the server offers it,
    /// unverified; `require` insists on it, unverified unless `sslrootcert` is given (then as
    /// `verify-ca`); `verify-ca` checks the server's chain; `verify-full` its name too.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// True when `value` names PostgreSQL rather than a SQLite file.
    public static func isURL(_ value: String) -> Bool {
        value.hasPrefix("postgres://") || value.hasPrefix("postgresql://")
    }

    /// Parses `url`. A URL that carries a password is refused (naming it redacted), so that a
    /// password never sits in a command line, a process listing or shell history.
    public init(url: String, password: String?) throws(StoreError) {
        let redacted = Self.redacted(url)
        guard Self.isURL(url), let components = URLComponents(string: url) else {
            throw StoreError(.failed, path: redacted, detail: "write the store as postgres://USER@HOST:PORT/DATABASE")
        }
        guard components.password == nil else {
            throw StoreError(
                .failed, path: redacted,
                detail: "the URL carries a password; put it in a file named by --store-password-file, or in PGPASSWORD")
        }
        guard let host = components.host, !host.isEmpty else {
            throw StoreError(.failed, path: redacted, detail: "the URL names no host")
        }
        guard let user = components.user, !user.isEmpty else {
            throw StoreError(.failed, path: redacted, detail: "the URL names no user (postgres://USER@HOST:PORT/DATABASE)")
        }
        for item in components.queryItems ?? [] {
            switch (item.name, item.value) {
            case ("sslmode", let value?):
                guard let mode = TLSMode(rawValue: value) else {
                    throw StoreError(.failed, path: redacted, detail: "sslmode=\(value) is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tls = mode
            case ("sslrootcert", let value?) where !value.isEmpty:
                rootCertificates = value
            default:
                throw StoreError(
                    .failed, path: redacted, detail: "the URL parameter \(item.name) is not supported; write sslmode=… and sslrootcert=… only")
            }
        }
        if tls == .require, rootCertificates != nil { tls = .verifyCA }  // libpq: a root file means verify
        if tls == .verifyFull, Self.isIPAddress(host) {
            throw StoreError(
                .failed, path: redacted,
                detail: "sslmode=verify-full checks the server's name, and \(host) is an address: name the server by its DNS name, or use sslmode=verify-ca")
        }
        let database = String(components.path.drop { $0 == "/" })
        self.host = host
        self.port = components.port ?? 5432
        self.user = user
        self.database = database.isEmpty ? user : database
        self.password = password
    }

    public var description: String {
        "postgres://\(user)@\(host):\(port)/\(database)" + (tls == .prefer ? "" : "?sslmode=\(tls.rawValue)")
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), &v6) == 1
    }
    public var debugDescription: String { description }
    /// `dump` and the debugger show the URL too, never the password.
    public var customMirror: Mirror { Mirror(self, children: ["url": description]) }

    /// `url` with what follows the user's `:` up to the last `@` (a password, which may itself
    /// hold an `@`) replaced by `***`: for messages about a URL that could not be parsed.
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"),
              let at = url[scheme.upperBound...].lastIndex(of: "@") else { return url }
        let userInfo = url[scheme.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }
}
