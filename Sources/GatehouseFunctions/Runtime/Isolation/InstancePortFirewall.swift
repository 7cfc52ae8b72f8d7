import Foundation
import Subprocess

#if canImport(Glibc)
import Glibc
#endif

/// Keeps each instance's port for Gatehouse: an nftables table that resets every connection to an
/// instance port from any local user but root (Gatehouse) and the instance's own user, and drops
/// such packets arriving from other hosts (an instance that binds every address).
///
/// This is what Istio's iptables capture does for a pod: the function's port is reachable only
/// through the proxy. Rules match on the connecting socket's owner (`meta skuid`), so functions,
/// shell users and any program that can be tricked into calling `127.0.0.1:PORT` (SSRF) are all
/// refused; root processes are not (they could remove the rule anyway). Outbound traffic of the
/// functions is not touched.
///
/// Only a connection's first packet (SYN without ACK) is looked at: a connection refused there
/// never exists, so what follows it cannot be anyone's. The hook runs for every packet on the
/// host; looking up a packet's socket owner takes the socket's callback lock, and doing that for
/// every loopback packet cost the gateway about 2 % of its CPU per forwarded request.
///
/// The table is named after the state directory (its path and inode), so a Gatehouse killed hard
/// leaves a table that the next start on the same directory replaces. Each port is added before its instance starts
/// and removed when it exits: one `nft` run (a few milliseconds) each.
final class InstancePortFirewall: Sendable {
    let table: String

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(stateDirectory: URL) {
        // FNV-1a of the path and the directory's device and inode: a short name (nft limits its
        // length) that a state directory removed and made again at the same path does not share.
        var info = stat()
        _ = stat(stateDirectory.path, &info)
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in Array(stateDirectory.standardizedFileURL.path.utf8) + Array("\(info.st_dev):\(info.st_ino)".utf8) {
            hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211
        }
        table = "gatehouse_" + String(hash, radix: 16)
    }

    /// Replaces any table of the same name with an empty one, after removing the tables of
    /// Gatehouses that are gone (`removeAbandoned`).
    func install() async throws {
        await removeAbandoned()
        _ = try? await nft(["delete", "table", "inet", table])
        try await nft(["-f", "-"], script: """
            table inet \(table) {
              comment "\(TableOwner.current.comment)"
              set ports { type inet_service; }
              set owners { typeof tcp dport . meta skuid; }
              chain output {
                type filter hook output priority 0; policy accept;
                tcp flags & (syn | ack) == syn tcp dport @ports meta skuid != 0 tcp dport . meta skuid != @owners reject with tcp reset
              }
              chain input {
                type filter hook input priority 0; policy accept;
                iifname != "lo" tcp dport @ports drop
              }
            }
            """)
    }

    /// From now on only Gatehouse and `owner` reach `port`.
    func admit(port: Int, owner: UInt32) async throws {
        try await nft(["-f", "-"], script: """
            add element inet \(table) ports { \(port) }
            add element inet \(table) owners { \(port) . \(owner) }
            """)
    }

    func withdraw(port: Int, owner: UInt32) async {
        _ = try? await nft(["-f", "-"], script: """
            delete element inet \(table) owners { \(port) . \(owner) }
            delete element inet \(table) ports { \(port) }
            """)
    }

    func remove() async {
        _ = try? await nft(["delete", "table", "inet", table])
    }

    func nft(_ arguments: [String], script: String = "") async throws {
        _ = try await run(arguments, script: script, output: .discarded)
    }

    /// What `nft` printed (a listing: a table, a set); at most 4 MiB, else it throws.
    func nftOutput(_ arguments: [String]) async throws -> String {
        try await run(arguments, script: "", output: .string(limit: 4 << 20))
    }

    private func run<Output: OutputProtocol>(_ arguments: [String], script: String, output: Output) async throws -> Output.OutputType {
        // Run to the end even when the caller is cancelled (a stop on a second signal withdraws
        // ports and removes the table from cancelled tasks): swift-subprocess ends the whole
        // process with a fatal error ("FileDescriptor … was not closed") when cancelled while it
        // holds the child's pipes. An unstructured task does not inherit the cancellation; nft
        // takes milliseconds.
        let result = try await Task {
            try await Subprocess.run(
                .name("nft"), arguments: Arguments(arguments), environment: .custom(["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]),
                input: .string(script), output: output, error: .string(limit: 4096))
        }.value
        guard result.terminationStatus.isSuccess else {
            let message = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure(description: "nft \(arguments.first ?? ""): \(message.isEmpty ? "\(result.terminationStatus)" : message)")
        }
        return result.standardOutput
    }
}
