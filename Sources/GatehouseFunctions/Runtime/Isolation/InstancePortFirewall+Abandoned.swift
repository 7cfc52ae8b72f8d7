import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The tables of Gatehouses that are gone. A Gatehouse killed hard leaves its table behind, and a
/// restart on the same state directory replaces it; one on a directory nobody starts again (a
/// test's, a benchmark's) is never replaced. Every such table hooks every packet on the host, so
/// they add up: seventeen left by a day's test runs cost each loopback packet seventeen more chain
/// walks. Each table names its owner in a comment; `install` removes those whose owner is gone.
extension InstancePortFirewall {
    /// Removes the `gatehouse_` tables whose owner is gone, and returns their names. Only owners in
    /// this PID namespace are judged (another namespace's pids cannot be looked up from here), and a
    /// table without an owner comment (made before owners were recorded) is left alone.
    @discardableResult
    func removeAbandoned() async -> [String] {
        guard let listing = try? await nft(["list", "tables"]) else { return [] }
        var removed: [String] = []
        for name in Self.gatehouseTables(in: listing) where name != table {
            guard let text = try? await nft(["list", "table", "inet", name]),
                  let owner = TableOwner(listing: text), owner.isGone
            else { continue }
            if (try? await nft(["delete", "table", "inet", name])) != nil { removed.append(name) }
        }
        return removed
    }

    /// `gatehouse_…` tables of the inet family in `nft list tables` output.
    static func gatehouseTables(in listing: String) -> [String] {
        listing.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count == 3, words[0] == "table", words[1] == "inet", words[2].hasPrefix("gatehouse_") else { return nil }
            return String(words[2])
        }
    }
}

/// The process that made a table: its pid, its start time (so a later process reusing the pid is
/// not taken for it) and its PID namespace.
struct TableOwner: Equatable {
    let pid: Int32
    let started: String
    let namespace: String

    static let current = TableOwner(
        pid: getpid(), started: startTime(of: "self") ?? "unknown", namespace: pidNamespace() ?? "unknown")

    init(pid: Int32, started: String, namespace: String) {
        self.pid = pid
        self.started = started
        self.namespace = namespace
    }

    /// From the `comment "gatehouse pid=… started=… pidns=…"` line of `nft list table` output.
    init?(listing: String) {
        guard let line = listing.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("comment \"gatehouse ") })
        else { return nil }
        var fields: [Substring: Substring] = [:]
        for word in line.split(whereSeparator: { $0 == " " || $0 == "\"" || $0 == "\t" }) {
            guard let equals = word.firstIndex(of: "=") else { continue }
            fields[word[..<equals]] = word[word.index(after: equals)...]
        }
        guard let pid = fields["pid"].flatMap({ Int32($0) }), let started = fields["started"], let namespace = fields["pidns"] else { return nil }
        self.init(pid: pid, started: String(started), namespace: String(namespace))
    }

    var comment: String { "gatehouse pid=\(pid) started=\(started) pidns=\(namespace)" }

    /// Gone: it ran in this PID namespace, and its pid is free or belongs to a later process.
    var isGone: Bool {
        guard namespace == Self.current.namespace, namespace != "unknown", started != "unknown" else { return false }
        return Self.startTime(of: String(pid)) != started
    }

    /// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
    static func startTime(of pid: String) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        // After the command name: field 3 onwards; the start time is field 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }

    /// The inode of this process's PID namespace (`pid:[4026531836]` → `4026531836`).
    static func pidNamespace() -> String? {
        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid") else { return nil }
        let digits = link.filter(\.isNumber)
        return digits.isEmpty ? nil : digits
    }
}
