import Foundation

/// TLS material named in config (certificate, key and CA files, or a `credentialName`): read with
/// errors that name the field and the path, never the contents.
enum CredentialFiles {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// `STATE_DIR/credentials/NAME/FILE`: a Kubernetes TLS secret's keys (`tls.crt`, `tls.key`, `ca.crt`) as files.
    static func file(_ name: String, _ file: String, in credentials: URL) -> String {
        credentials.appendingPathComponent(name).appendingPathComponent(file).path
    }

    static func read<T>(_ path: String, _ field: String, _ load: (String) throws -> T) throws(Problem) -> T {
        guard FileManager.default.isReadableFile(atPath: path) else { throw Problem(description: "\(field): cannot read \(path)") }
        do { return try load(path) } catch { throw Problem(description: "\(field): \(path) is not a PEM file of the expected kind") }
    }
}
