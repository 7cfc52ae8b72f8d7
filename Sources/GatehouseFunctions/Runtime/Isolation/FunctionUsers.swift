import GatehouseCore

/// Which uid and gid each function runs as when Gatehouse runs as root.
///
/// `spec.process.runAsUser` / `runAsGroup` win; otherwise each function (by namespace and name,
/// so its revisions and instances share files it writes) gets the next free id of the Mesh's
/// `functionUsers` range, kept for as long as Gatehouse runs. Two functions never share an id
/// from the range, so one cannot read the other's SVID key or signal its processes.
/// A plain value: the sandbox keeps it under its lock.
struct FunctionUsers {
    var range: ClosedRange<Int>
    private var assigned: [FunctionKey: Int] = [:]
    private var next: Int

    init(range: ClosedRange<Int>) {
        self.range = range
        next = range.lowerBound
    }

    /// The user for `spec`; nil when the range is used up (the instance does not start).
    mutating func user(for spec: FunctionSpec) -> FunctionUser? {
        if let uid = spec.process.runAsUser {
            return FunctionUser(uid: UInt32(uid), gid: UInt32(spec.process.runAsGroup ?? uid))
        }
        let uid: Int
        if let known = assigned[spec.key] {
            uid = known
        } else {
            let taken = Set(assigned.values)
            guard let free = (next...range.upperBound).first(where: { !taken.contains($0) }) ?? range.first(where: { !taken.contains($0) })
            else { return nil }
            uid = free
            assigned[spec.key] = uid
            next = min(uid + 1, range.upperBound)
        }
        return FunctionUser(uid: UInt32(uid), gid: UInt32(spec.process.runAsGroup ?? uid))
    }
}

/// The uid and gid one function's processes run as.
public struct FunctionUser: Sendable, Hashable, CustomStringConvertible {
    public let uid: UInt32
    public let gid: UInt32
    public var description: String { "uid \(uid), gid \(gid)" }
}
