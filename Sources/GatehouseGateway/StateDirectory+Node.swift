import Foundation

extension StateDirectory {
    /// This state directory's identity in the node registry (`node-id`, a random UUID made at the
    /// first start): the owner of the node's row. Only the process holding the directory's lock
    /// uses it, so a row with this owner belongs to a process that has ended — a restart takes its
    /// name back at once, even after `kill -9`.
    func nodeOwner() throws -> String {
        let file = url.appendingPathComponent("node-id")
        if let text = try? String(contentsOf: file, encoding: .utf8) {
            let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !id.isEmpty { return id }
        }
        let id = UUID().uuidString.lowercased()
        do {
            try Data((id + "\n").utf8).write(to: file, options: .atomic)
        } catch {
            throw Unusable(path: file.path, reason: "cannot write the node id: \(error.localizedDescription)")
        }
        return id
    }
}
