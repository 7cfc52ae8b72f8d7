import GatehouseConfig
import GatehouseCore
import Testing

@Suite("Mesh spec.listeners.adminHosts")
struct MeshAdminHostsTests {
    static func mesh(_ hosts: String) -> String {
        """
        apiVersion: gatehouse.dev/v1
        kind: Mesh
        metadata: {name: m}
        spec:
          listeners:
            adminHosts: \(hosts)
        """
    }

    @Test("names and addresses are kept lowercase, IPv6 in brackets")
    func accepted() throws {
        let snapshot = try ConfigLoader.load(yaml: Self.mesh(#"["Ops.Example.com", "10.0.0.5", "fd00::1", "[::2]"]"#), file: "mesh.yaml")
        #expect(snapshot.mesh.adminHosts == ["ops.example.com", "10.0.0.5", "[fd00::1]", "[::2]"])
    }

    @Test("a URL, a port or a wildcard is refused with file, line, field and fix")
    func refused() {
        let found = diagnostics(Self.mesh(#"["http://ops.example.com", "ops:8080", "*.example.com"]"#), file: "mesh.yaml")
        #expect(found.count == 3)
        #expect(found.allSatisfy { $0.location.file == "mesh.yaml" && $0.location.line == 6 && $0.field.hasPrefix("spec.listeners.adminHosts") })
        #expect(found.first?.message == "\"http://ops.example.com\" is not a host name or address (no scheme, port, path or wildcard)")
        #expect(found.first?.fix?.contains("gatehouse.internal") == true)
    }
}
