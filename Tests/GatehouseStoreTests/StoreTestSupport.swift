import Foundation
import GatehouseCore

/// A fresh folder for one test's databases (the test removes it).
func temporaryStoreFolder() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-store-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// A document as a test applies it: `default/NAME` of `kind`, from `/cfg/NAME.yaml`.
func storedDocument(_ name: String, _ text: String, kind: String = "Function", lineOffset: Int = 0) -> ResourceDocument {
    ResourceDocument(
        key: ResourceKey(group: "gatehouse.dev", kind: kind, namespace: "default", name: name),
        apiVersion: "gatehouse.dev/v1", text: text, file: "/cfg/\(name).yaml", lineOffset: lineOffset)
}
