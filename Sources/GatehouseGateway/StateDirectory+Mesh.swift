import Foundation
import GatehouseConfig
import GatehouseCore
import GatehouseStore

extension StateDirectory {
    /// The Mesh stored in `STATE_DIR/gatehouse.db`, read only; the default Mesh when none was
    /// applied. Commands that sign or verify audit checkpoints take the audit identity's trust
    /// domain and root namespace from it, as the running Gatehouse does.
    public static func storedMesh(in url: URL) throws -> MeshSpec {
        let documents = try SQLiteStore.storedDocuments(kind: "Mesh", path: url.appendingPathComponent("gatehouse.db").path)
        guard !documents.isEmpty else { return MeshSpec() }
        return try ConfigLoader.load(documents: documents).mesh
    }

}
