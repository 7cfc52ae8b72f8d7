import ArgumentParser
import AsyncHTTPClient
import Foundation
import GatehouseGateway
import NIOCore
import NIOHTTP1

struct Invoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call a function through the running Gatehouse's ingress and print the response.",
        discussion: """
            Exits with status 1 when the response is 4xx or 5xx (its body is still printed).
            With --in-process, the request is handed to the running Gatehouse through its admin API and
            invoked without a socket — the path events and schedules take — through the same stages,
            pools, metrics and access log, as ingress traffic.
            """)

    @Argument(help: "The function's name.")
    var name: String

    @Option(name: .shortAndLong, help: "The function's namespace.")
    var namespace: String = "default"

    @Option(name: .shortAndLong, help: "HTTP method (default GET, or POST when there is data).")
    var method: String?

    @Option(help: "Request path and query.")
    var path: String = "/"

    @Option(name: .shortAndLong, help: "Request body.")
    var data: String?

    @Option(help: "Read the request body from a file.")
    var dataFile: String?

    @Option(name: [.customShort("H"), .long], help: "A request header NAME:VALUE (repeatable).")
    var header: [String] = []

    @Flag(name: .shortAndLong, help: "Print the status line and response headers to stderr.")
    var verbose = false

    @Flag(help: "Invoke in-process through the admin API (no ingress socket).")
    var inProcess = false

    @OptionGroup var connection: AdminConnectionOptions
    var state: StateDirectoryOption { connection.state }

    func validate() throws {
        if data != nil && dataFile != nil { throw ValidationError("use --data or --data-file, not both") }
        for entry in header where !entry.contains(":") {
            throw ValidationError("--header \(entry): write NAME:VALUE, for example --header 'X-Team: billing'")
        }
    }

    func run() async throws {
        let endpoints: StateDirectory.Endpoints
        do {
            endpoints = try StateDirectory.readEndpoints(in: state.url)
        } catch {
            throw CommandFailure(
                "no running gatehouse found in \(state.url.path) (endpoints.json missing); start one with `gatehouse up`, or pass --state-dir")
        }
        var body: Data?
        if let data { body = Data(data.utf8) }
        if let dataFile {
            guard let contents = FileManager.default.contents(atPath: dataFile) else {
                throw CommandFailure("cannot read --data-file \(dataFile)")
            }
            body = contents
        }
        if inProcess { return try await invokeInProcess(domain: endpoints.domain, body: body) }
        var request = HTTPClientRequest(url: endpoints.ingress + (path.hasPrefix("/") ? path : "/" + path))
        request.method = HTTPMethod(rawValue: method ?? (body == nil ? "GET" : "POST"))
        request.headers.add(name: "host", value: "\(name).\(namespace).\(endpoints.domain)")
        for entry in header {
            let colon = entry.firstIndex(of: ":")!
            request.headers.add(
                name: String(entry[..<colon]).trimmingCharacters(in: .whitespaces),
                value: String(entry[entry.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }

        let status = try await withCommandEventLoop { group in try await Self.call(request, on: group, verbose: verbose, ingress: endpoints.ingress) }
        if status >= 400 { throw ExitCode(1) }
    }

    private static func call(_ request: HTTPClientRequest, on group: any EventLoopGroup, verbose: Bool, ingress: String) async throws -> UInt {
        let client = HTTPClient(eventLoopGroupProvider: .shared(group))
        let status: UInt
        do {
            let response = try await client.execute(request, timeout: .seconds(600))
            status = response.status.code
            if verbose {
                FileHandle.standardError.write(Data("HTTP/1.1 \(response.status)\n".utf8))
                for (name, value) in response.headers { FileHandle.standardError.write(Data("\(name): \(value)\n".utf8)) }
            }
            for try await chunk in response.body {
                FileHandle.standardOutput.write(Data(chunk.readableBytesView))
            }
        } catch {
            try? await client.shutdown()
            throw CommandFailure("calling \(ingress) failed: \(error)")
        }
        try await client.shutdown()
        return status
    }

    private func invokeInProcess(domain: String, body: Data?) async throws {
        let headers = header.map { entry in
            let colon = entry.firstIndex(of: ":")!
            return [String(entry[..<colon]).trimmingCharacters(in: .whitespaces), String(entry[entry.index(after: colon)...]).trimmingCharacters(in: .whitespaces)]
        }
        let request = AdminWire.InvokeRequest(
            host: "\(name).\(namespace).\(domain)", method: method ?? (body == nil ? "GET" : "POST"),
            path: path.hasPrefix("/") ? path : "/" + path, headers: headers, body: body?.base64EncodedString())
        let response = try await connection.connect().post("/api/v1/invoke", request, as: AdminWire.InvokeResponse.self)
        if verbose {
            FileHandle.standardError.write(Data("HTTP/1.1 \(response.status)\n".utf8))
            for pair in response.headers where pair.count == 2 { FileHandle.standardError.write(Data("\(pair[0]): \(pair[1])\n".utf8)) }
        }
        FileHandle.standardOutput.write(Data(base64Encoded: response.body) ?? Data())
        if response.status >= 400 { throw ExitCode(1) }
    }
}
