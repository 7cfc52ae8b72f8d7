import GatehouseCore

extension StoreError {
    /// The refusal of a commit whose `change` found something other than it expected: the same
    /// words from every store, since the CLI and the API show them.
    static func changedByAnother(_ conflict: Conflict, path: String) -> StoreError {
        let now = conflict.currentGeneration.map { "it is at generation \($0) now" } ?? "it does not exist now"
        let wanted = switch conflict.expected {
        case .absent: "expected it not to exist"
        case .version(let generation, _): "expected generation \(generation)"
        }
        return StoreError(
            .conflict, path: path, detail: "\(conflict.key) was changed by another writer (\(wanted); \(now))", conflict: conflict)
    }

    /// The refusal of a commit validated against `basedOn` when the store has moved past it.
    static func storeMoved(_ conflict: Conflict, basedOn: Int64?, path: String) -> StoreError {
        StoreError(
            .conflict, path: path,
            detail: "the config was changed by another writer (store revision \(conflict.currentRevision ?? 0), this change was validated against \(basedOn ?? 0))",
            conflict: conflict)
    }
}
