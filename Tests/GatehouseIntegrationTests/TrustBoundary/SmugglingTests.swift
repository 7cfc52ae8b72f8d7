import Foundation
import GatehouseTesting
import Testing

/// Request smuggling through the forwarder: whatever framing a client writes, the function receives
/// exactly the one request Gatehouse checked, framed by Gatehouse, with the same body — or nothing.
@Suite("Request framing: the function sees exactly the request the gateway checked", .serialized)
struct SmugglingTests {
    /// One row: the raw request (`HOST` stands for the function's host), the status the client gets,
    /// and — when it is forwarded — the framing header the function must see and the body.
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let raw: String
        let status: Int
        let forwarded: (header: String, body: String)?
        var testDescription: String { name }
    }

    /// A whole request inside a body (its host is literal: `HOST` is replaced only in the framing).
    static let hidden = "GET /smuggled HTTP/1.1\r\nHost: smuggled.example\r\n\r\n"

    static let cases: [Case] = [
        Case(name: "CL.TE", raw: "POST / HTTP/1.1\r\nHost: HOST\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
             status: 400, forwarded: nil),
        Case(name: "TE.CL", raw: "POST / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
             + String(hidden.utf8.count, radix: 16) + "\r\n" + hidden + "\r\n0\r\n\r\n", status: 400, forwarded: nil),
        Case(name: "TE Chunked (case)", raw: "POST / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: Chunked\r\n\r\n"
             + String(hidden.utf8.count, radix: 16) + "\r\n" + hidden + "\r\n0\r\n\r\n",
             status: 200, forwarded: ("transfer-encoding: chunked", hidden)),
        Case(name: "TE CHUNKED", raw: "POST / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
             status: 200, forwarded: ("transfer-encoding: chunked", "hello")),
        Case(name: "TE gzip, chunked", raw: "POST / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
             + String(hidden.utf8.count, radix: 16) + "\r\n" + hidden + "\r\n0\r\n\r\n", status: 501, forwarded: nil),
        Case(name: "TE chunked, chunked", raw: "POST / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
             status: 400, forwarded: nil),
        Case(name: "TE over two lines", raw: "POST / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n"
             + "5\r\nhello\r\n0\r\n\r\n", status: 501, forwarded: nil),
        Case(name: "TE xchunked", raw: "POST / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
             status: 501, forwarded: nil),
        Case(name: "TE obs-fold", raw: "POST / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding:\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
             status: 400, forwarded: nil),
        Case(name: "duplicate Content-Length", raw: "POST / HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
             status: 400, forwarded: nil),
        Case(name: "comma-joined Content-Length", raw: "POST / HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5, 5\r\n\r\nhello",
             status: 400, forwarded: nil),
        Case(name: "chunk extension", raw: "POST / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=\"x\"\r\nhello\r\n0\r\n\r\n",
             status: 200, forwarded: ("transfer-encoding: chunked", "hello")),
        Case(name: "bare LF", raw: "POST / HTTP/1.1\nHost: HOST\nContent-Length: 5\n\nhello", status: 400, forwarded: nil),
        Case(name: "TRACE with a body", raw: "TRACE / HTTP/1.1\r\nHost: HOST\r\nContent-Length: \(hidden.utf8.count)\r\n\r\n" + hidden,
             status: 400, forwarded: nil),
        Case(name: "GET with a body", raw: "GET / HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\n\r\nhello",
             status: 200, forwarded: ("content-length: 5", "hello")),
        Case(name: "DELETE with a chunked body", raw: "DELETE / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
             status: 200, forwarded: ("transfer-encoding: chunked", "hello")),
        Case(name: "OPTIONS with a body", raw: "OPTIONS / HTTP/1.1\r\nHost: HOST\r\nContent-Length: \(hidden.utf8.count)\r\n\r\n" + hidden,
             status: 200, forwarded: ("content-length: \(hidden.utf8.count)", hidden)),
        Case(name: "POST without a body", raw: "POST / HTTP/1.1\r\nHost: HOST\r\n\r\n",
             status: 200, forwarded: ("content-length: 0", "")),
    ]

    static let config = """
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata: {name: rec, namespace: default}
        spec:
          process:
            command: ["python3", "\(RecorderFixture.fileName)"]

        """

    @Test("Each framing a client may write reaches the function as one request Gatehouse framed, or not at all", arguments: cases)
    func framing(_ row: Case) async throws {
        try await withGatehouse(Self.config, prepare: { try RecorderFixture.write(into: $0) }) { gatehouse in
            let host = "rec.default.\(gatehouse.domain)"
            #expect(try await gatehouse.request("rec").status == 200)  // warm, and one request on record
            let before = try await recorded(gatehouse)

            let connection = try RawConnection(url: gatehouse.ingress, timeoutSeconds: 10)
            try connection.send(row.raw.replacingOccurrences(of: "HOST", with: host))
            let response = try await connection.readResponse()
            connection.close()
            #expect(response.status == row.status, "\(row.name): \(response.body)")
            if row.status >= 400 {
                #expect(response.header("x-request-id") != nil)
            }

            let after = try await recorded(gatehouse)
            let new = Array(after.dropFirst(before.count))
            #expect(!new.contains { ($0["target"] as? String) == "/smuggled" }, "\(row.name): a hidden request reached the function")
            if let forwarded = row.forwarded {
                try #require(new.count == 1, "\(row.name): the function saw \(new.count) requests: \(new)")
                let headers = (new[0]["headers"] as? [[String]]) ?? []
                let framing = headers.filter { ["content-length", "transfer-encoding"].contains($0[0].lowercased()) }
                #expect(framing.map { "\($0[0].lowercased()): \($0[1])" } == [forwarded.header], "\(row.name)")
                let body = Data(base64Encoded: new[0]["body"] as? String ?? "").map { String(decoding: $0, as: UTF8.self) }
                #expect(body == forwarded.body, "\(row.name)")
            } else {
                #expect(new.isEmpty, "\(row.name): a refused request reached the function: \(new)")
            }
        }
    }

    /// The requests the recorder parsed so far (its own `/__log` calls left out).
    private func recorded(_ gatehouse: RunningGatehouse) async throws -> [[String: Any]] {
        let log = try await gatehouse.request("rec", path: "/__log")
        try #require(log.status == 200, "\(log.body)")
        return log.json["requests"] as? [[String: Any]] ?? []
    }
}
