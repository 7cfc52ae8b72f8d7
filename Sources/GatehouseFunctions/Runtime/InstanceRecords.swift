import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Records of running instances in the state directory (`instances/<pid>.json`), so that when
/// Gatehouse was killed hard, the next start can end the process groups it left behind.
///
/// A record names the group leader's pid and its start time (field 22 of `/proc/PID/stat`), so a
/// recycled pid is never mistaken for one of ours.
public struct InstanceRecords: Sendable {
    public let directory: URL

    public init(stateDirectory: URL) {
        self.directory = stateDirectory.appendingPathComponent("instances", isDirectory: true)
    }

    struct Record: Codable {
        var pid: Int32
        var startTicks: UInt64
        var function: String
        var command: [String]
    }

    func add(pid: Int32, function: String, command: [String]) {
        guard let ticks = Self.startTicks(of: pid) else { return }
        let record = Record(pid: pid, startTicks: ticks, function: function, command: command)
        try? FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if let data = try? JSONEncoder().encode(record) {
            try? data.write(to: file(for: pid), options: .atomic)
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file(for: pid).path)
        }
    }

    func remove(pid: Int32) {
        try? FileManager.default.removeItem(at: file(for: pid))
    }

    /// Kills every recorded process group whose members are still ours; returns how many groups.
    @discardableResult
    public func reapLeftovers(logger: Logger) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return 0 }
        var reaped = 0
        for name in names where name.hasSuffix(".json") {
            let url = directory.appendingPathComponent(name)
            defer { try? FileManager.default.removeItem(at: url) }
            guard let data = try? Data(contentsOf: url), let record = try? JSONDecoder().decode(Record.self, from: data)
            else { continue }
            let members = Self.groupMembers(pgid: record.pid, notOlderThan: record.startTicks)
            guard !members.isEmpty else { continue }
            kill(-record.pid, SIGKILL)
            reaped += 1
            logger.warning(
                "ended processes left by an earlier run",
                metadata: ["function": "\(record.function)", "pgid": "\(record.pid)", "processes": "\(members.count)"])
        }
        return reaped
    }

    private func file(for pid: Int32) -> URL { directory.appendingPathComponent("\(pid).json") }

    /// Start time of a process in clock ticks since boot, or nil when it does not exist.
    static func startTicks(of pid: Int32) -> UInt64? {
        statFields(of: pid).flatMap { $0.count > 19 ? UInt64($0[19]) : nil }
    }

    /// Processes in group `pgid` started no earlier than the recorded leader.
    static func groupMembers(pgid: Int32, notOlderThan ticks: UInt64) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), let fields = statFields(of: pid), fields.count > 19,
                  Int32(fields[2]) == pgid, let started = UInt64(fields[19]), started >= ticks else { return nil }
            return pid
        }
    }

    /// Fields of `/proc/PID/stat` after the command name (field 3 onwards: state, ppid, pgrp, …).
    private static func statFields(of pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }
}
