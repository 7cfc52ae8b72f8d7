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
    /// Removes the `gatehouse_` tables whose owner is gone and whose instances are gone too, and
    /// returns their names.
    ///
    /// - Only owners in this PID namespace are judged (another namespace's pids cannot be looked up
    ///   from here), and a table without an owner comment (made before owners were recorded) is
    ///   left alone.
    /// - Instances outlive a Gatehouse killed hard (each runs in a session of its own) until a start
    ///   on its state directory ends them: while any of them runs, or anything listens on one of
    ///   the table's ports, the table still keeps them, and stays.
    /// - A table is deleted by its handle, so one replaced meanwhile by a start on its directory
    ///   (same name, new handle) is not.
    @discardableResult
    func removeAbandoned() async -> [String] {
        guard TableOwner.current.canJudge, let listing = try? await nftOutput(["list", "tables"]) else { return [] }
        var removed: [String] = []
        for name in Self.gatehouseTables(in: listing) where name != table {
            guard let text = try? await nftOutput(["-a", "list", "table", "inet", name]),
                  let (handle, owner) = TableOwner.parse(tableListing: text), let owner, owner.isGone,
                  let owners = try? await nftOutput(["-j", "list", "set", "inet", name, "owners"]),
                  let ports = try? await nftOutput(["-j", "list", "set", "inet", name, "ports"]),
                  let admitted = Self.admitted(ports: ports, owners: owners),
                  !admitted.ports.contains(where: ListeningSockets.anyListener(onPort:)),
                  !ProcessTable.anyProcess(runningAs: admitted.uids)
            else { continue }
            if (try? await nft(["delete", "table", "inet", "handle", String(handle)])) != nil { removed.append(name) }
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

    /// The ports and uids a table admits, from `nft -j list set` of its `ports` and `owners`; nil
    /// when either cannot be read.
    static func admitted(ports: String, owners: String) -> (ports: [Int], uids: Set<UInt32>)? {
        func elements(_ json: String) -> [Any]? {
            guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
                  let items = object["nftables"] as? [[String: Any]],
                  let set = items.compactMap({ $0["set"] as? [String: Any] }).first
            else { return nil }
            return set["elem"] as? [Any] ?? []  // an empty set has no "elem"
        }
        guard let portElements = elements(ports), let ownerElements = elements(owners) else { return nil }
        var admittedPorts = portElements.compactMap { $0 as? Int }
        var uids = Set<UInt32>()
        for element in ownerElements {
            guard let pair = (element as? [String: Any])?["concat"] as? [Any], pair.count == 2,
                  let port = pair[0] as? Int, let uid = (pair[1] as? Int).flatMap(UInt32.init(exactly:))
            else { return nil }  // not what Gatehouse writes: leave the table alone
            admittedPorts.append(port)
            uids.insert(uid)
        }
        return (admittedPorts, uids)
    }
}

/// The process that made a table: its pid, its start time (so a later process reusing the pid is
/// not taken for it) and its PID namespace.
struct TableOwner: Equatable {
    let pid: Int32
    let started: String
    let namespace: String

    static let current = TableOwner(
        pid: getpid(), started: ProcessTable.startTime(of: getpid(), checkingPid: true) ?? "unknown",
        namespace: ProcessTable.pidNamespace() ?? "unknown")

    init(pid: Int32, started: String, namespace: String) {
        self.pid = pid
        self.started = started
        self.namespace = namespace
    }

    /// This process can tell who is gone: its `/proc` shows its own PID namespace.
    var canJudge: Bool { started != "unknown" && namespace != "unknown" }

    /// From the `comment "gatehouse pid=… started=… pidns=…"` line.
    init?(comment line: Substring) {
        guard line.trimmingCharacters(in: .whitespaces).hasPrefix("comment \"gatehouse ") else { return nil }
        var fields: [Substring: Substring] = [:]
        for word in line.split(whereSeparator: { $0 == " " || $0 == "\"" || $0 == "\t" }) {
            guard let equals = word.firstIndex(of: "=") else { continue }
            fields[word[..<equals]] = word[word.index(after: equals)...]
        }
        guard let pid = fields["pid"].flatMap({ Int32($0) }), let started = fields["started"], let namespace = fields["pidns"] else { return nil }
        self.init(pid: pid, started: String(started), namespace: String(namespace))
    }

    /// The table's handle and owner from `nft -a list table` output: the first line ends with
    /// `# handle N`, and the table's own comment is the line right after it (a chain's or a set's
    /// comment, further down, does not name the table's owner).
    static func parse(tableListing text: String) -> (handle: Int, owner: TableOwner?)? {
        let lines = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
        guard let first = lines.first, first.hasPrefix("table inet "), let mark = first.range(of: "# handle "),
              let handle = Int(first[mark.upperBound...].trimmingCharacters(in: .whitespaces))
        else { return nil }
        return (handle, lines.count > 1 ? TableOwner(comment: lines[1]) : nil)
    }

    var comment: String { "gatehouse pid=\(pid) started=\(started) pidns=\(namespace)" }

    /// Gone: it ran in this PID namespace, and its pid is free or belongs to a later process. A
    /// pid whose entry cannot be read for another reason (permissions, no memory) is not gone.
    var isGone: Bool {
        guard Self.current.canJudge, namespace == Self.current.namespace, started != "unknown" else { return false }
        if let now = ProcessTable.startTime(of: pid) { return now != started }
        return ProcessTable.isAbsent(pid)
    }
}

/// What `/proc` says about processes.
enum ProcessTable {
    /// When the process started (`InstanceRecords.startTicks`, field 22 of `/proc/PID/stat`). With
    /// `checkingPid`, nil unless `/proc` names this process by `pid`: a `/proc` mounted for another
    /// PID namespace than this process's would name another process.
    static func startTime(of pid: Int32, checkingPid: Bool = false) -> String? {
        if checkingPid, (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self")) != String(pid) { return nil }
        return InstanceRecords.startTicks(of: pid).map(String.init)
    }

    /// No such process (its `/proc` entry does not exist), as opposed to one that cannot be read.
    static func isAbsent(_ pid: Int32) -> Bool {
        var info = stat()
        return stat("/proc/\(pid)", &info) != 0 && errno == ENOENT
    }

    /// The inode of this process's PID namespace (`pid:[4026531836]` → `4026531836`).
    static func pidNamespace() -> String? {
        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid") else { return nil }
        let digits = link.filter(\.isNumber)
        return digits.isEmpty ? nil : digits
    }

    /// Whether a process runs with one of `uids` as its real, effective, saved or filesystem uid
    /// (`Uid:` of `/proc/PID/status`). True when `/proc` cannot be listed: unknown is not "none".
    static func anyProcess(runningAs uids: Set<UInt32>) -> Bool {
        guard !uids.isEmpty else { return false }
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return true }
        for entry in entries where entry.first?.isNumber == true {
            guard let status = try? String(contentsOfFile: "/proc/\(entry)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") })
            else { continue }  // it exited meanwhile
            if line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().contains(where: { UInt32($0).map(uids.contains) == true }) {
                return true
            }
        }
        return false
    }
}
