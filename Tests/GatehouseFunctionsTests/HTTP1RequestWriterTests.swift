@testable import GatehouseFunctions
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The upstream request head written as bytes: the same bytes NIO's encoder writes, and nothing
/// NIO's validator would have refused.
@Suite("Requests to instances, written as bytes")
struct HTTP1RequestWriterTests {
    /// What NIO's `HTTPRequestEncoder` writes for `head` (and a body, chunked when the head says so).
    private func nioBytes(_ head: HTTPRequestHead, body: [String]) throws -> String {
        let channel = EmbeddedChannel(handler: HTTPRequestEncoder())
        try channel.writeOutbound(HTTPClientRequestPart.head(head))
        for part in body { try channel.writeOutbound(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: part)))) }
        try channel.writeOutbound(HTTPClientRequestPart.end(nil))
        return try drain(channel)
    }

    private func writerBytes(_ head: HTTPRequestHead, body: [String]) throws -> String {
        let channel = EmbeddedChannel()
        let writer = HTTP1RequestWriter(decoder: HTTPResponseDecoder())
        try writer.writeHead(head, to: channel)
        for part in body { writer.writeBody(ByteBuffer(string: part), to: channel) }
        writer.writeEnd(to: channel)
        channel.flush()
        return try drain(channel)
    }

    private func drain(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let part = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = part else { continue }
            text += String(buffer: buffer)
        }
        return text
    }

    @Test("The same bytes as NIO's encoder: request line, headers in order and spelling, the body framed by length or in chunks (empty parts skipped)",
          arguments: [
            (HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["Host": "h", "Accept": "*/*", "accept": "text/plain"]), [String]()),
            (HTTPRequestHead(version: .http1_1, method: .POST, uri: "/up?x=1&y=%20", headers: ["host": "fn", "content-length": "11"]), ["hello", " world"]),
            (HTTPRequestHead(version: .http1_1, method: .PUT, uri: "/c", headers: ["host": "fn", "x-e": "", "transfer-encoding": "chunked"]), ["hello", "", String(repeating: "z", count: 300)]),
            (HTTPRequestHead(version: .http1_1, method: .RAW(value: "PURGE"), uri: "*", headers: ["authorization": "Bearer " + String(repeating: "a", count: 622)]), []),
          ])
    func sameBytesAsNIO(_ head: HTTPRequestHead, _ body: [String]) throws {
        let (ours, nio) = (try writerBytes(head, body: body), try nioBytes(head, body: body))
        #expect(ours == nio, "\(ours.prefix(120).debugDescription) vs \(nio.prefix(120).debugDescription)")
    }

    @Test("What NIO's validator refused is refused: CR, LF, NUL, other controls and DEL in a value; a name that is not a token; a target with a space or control")
    func refusesWhatIsNotHTTP() {
        func refused(_ head: HTTPRequestHead) -> Bool {
            var chunked = false
            return (try? HTTP1RequestWriter.encode(head, allocator: ByteBufferAllocator(), chunked: &chunked)) == nil
        }
        func head(_ name: String = "x-a", value: String = "v", uri: String = "/") -> HTTPRequestHead {
            HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: [name: value])
        }
        for value in ["a\r\nb: c", "a\rb", "a\nb", "a\u{0}", "a\u{1}", "a\u{1F}", "a\u{7F}", String(repeating: "t", count: 700) + "\n"] {
            #expect(refused(head(value: value)), "\(value.debugDescription)")
        }
        for name in ["", "x a", "x:a", "x\r\na", "x(a)", "ä", "x\u{7F}"] {
            #expect(refused(head(name)), "\(name.debugDescription)")
        }
        for uri in ["", "/a b", "/a\r\nX: y", "/\u{0}", "/\u{7F}", "/a\tb"] {
            #expect(refused(head(uri: uri)), "\(uri.debugDescription)")
        }
        #expect(refused(HTTPRequestHead(version: .http1_1, method: .RAW(value: "GET /x"), uri: "/", headers: [:])))
        for value in ["", "a\tb", "Zoë", "\u{80}\u{FF}", "!#$%&'*+-.^_`|~ (\"quoted\")"] {
            #expect(!refused(head(value: value)), "\(value.debugDescription)")
        }
    }
}

extension HTTPRequestHead: @retroactive CustomTestStringConvertible {
    public var testDescription: String { "\(method) \(uri) (\(headers.count) headers)" }
}
