import GatehouseCore

/// Which uid and gid each function runs as when Gatehouse runs as root.
///
/// `spec.process.runAsUser` / `runAsGroup` win, but only outside the range (inside it they could be
/// another function's); otherwise each function (by namespace and name, so its revisions and
/// instances share files it writes) gets the next free id of the Mesh's `functionUsers` range, kept
/// for as long as Gatehouse runs. Two functions never share an id from the range, so one cannot
/// read the other's SVID key or signal its processes. (Functions that name the same `runAsUser`
/// share it: the operator said so.)
/// A plain value: the sandbox keeps it under its lock.
struct FunctionUsers {
    var range: ClosedRange<Int>
    private var assigned: [FunctionKey: Int] = [:]
    private var next: Int

    init(range: ClosedRange<Int>) {
        self.range = range
        next = range.lowerBound
    }

    /// Why a function gets no user (its instance does not start).
    enum Refusal: Error, Equatable {
        case exhausted
        /// An explicit id inside the range could be another function's own.
        case insideRange(Int)
    }

    /// The user for `spec`.
    mutating func user(for spec: FunctionSpec) -> Result<FunctionUser, Refusal> {
        if let uid = spec.process.runAsUser {
            if range.contains(uid) { return .failure(.insideRange(uid)) }
            if let gid = spec.process.runAsGroup, range.contains(gid) { return .failure(.insideRange(gid)) }
            return .success(FunctionUser(uid: UInt32(uid), gid: UInt32(spec.process.runAsGroup ?? uid)))
        }
        let uid: Int
        if let known = assigned[spec.key] {
            uid = known
        } else {
            let taken = Set(assigned.values)
            guard let free = (next...range.upperBound).first(where: { !taken.contains($0) }) ?? range.first(where: { !taken.contains($0) })
            else { return .failure(.exhausted) }
            uid = free
            assigned[spec.key] = uid
            next = min(uid + 1, range.upperBound)
        }
        if let gid = spec.process.runAsGroup, range.contains(gid) { return .failure(.insideRange(gid)) }
        return .success(FunctionUser(uid: UInt32(uid), gid: UInt32(spec.process.runAsGroup ?? uid)))
    }
}

/// The uid and gid one function's processes run as.
public struct FunctionUser: Sendable, Hashable, CustomStringConvertible {
    public let uid: UInt32
    public let gid: UInt32
    public var description: String { "uid \(uid), gid \(gid)" }
}
