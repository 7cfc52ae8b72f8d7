import Foundation
import GatehouseTesting

extension RunningGatehouse {
    /// Writes `yaml` next to the config and returns its path.
    func writeFile(_ name: String, _ yaml: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// `gatehouse apply -f` with one file; fails the test's expectations through its status.
    func apply(_ name: String, _ yaml: String) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await cli(["apply", "-f", try writeFile(name, yaml)])
    }

    /// `POST /api/v1/apply` with one file, straight to the API (no local check by the CLI). The file
    /// is named as if it sat in the test's directory, where the fixture function's script is.
    func applyThroughAPI(file: String, _ yaml: String, token: String? = nil) async throws -> Response {
        let name = directory.appendingPathComponent(file).path
        let body = try JSONSerialization.data(withJSONObject: ["files": [["name": name, "content": yaml]]])
        return try await api("/api/v1/apply", method: .POST, json: String(decoding: body, as: UTF8.self), token: token)
    }

    /// The JSON array an API call answered with.
    func apiList(_ path: String) async throws -> [[String: Any]] {
        let response = try await api(path)
        return (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [[String: Any]] ?? []
    }

    /// Names of the stored resources of a kind.
    func storedNames(kind: String = "Function") async throws -> [String] {
        try await apiList("/api/v1/resources?kind=\(kind)").compactMap { $0["name"] as? String }.sorted()
    }
}

extension RunningGatehouse.Response {
    /// `env.NAME` as the fixture function reported it.
    func env(_ name: String) -> String? { (json["env"] as? [String: Any])?[name] as? String }
}
