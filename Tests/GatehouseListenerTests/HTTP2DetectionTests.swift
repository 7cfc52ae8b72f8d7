@testable import GatehouseListener
import NIOCore
import NIOHPACK
import Testing

@Suite("HTTP/2 detection and the stream's request head")
struct HTTP2DetectionTests {
    @Test("The preface decides: all of it is HTTP/2, a strict prefix waits, anything else is HTTP/1.1")
    func sniff() {
        let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        #expect(HTTPVersionDetector.sniff(ByteBuffer(string: preface)) == .http2)
        #expect(HTTPVersionDetector.sniff(ByteBuffer(string: preface + "\u{0}\u{0}\u{12}\u{4}")) == .http2)
        #expect(HTTPVersionDetector.sniff(ByteBuffer(string: "PRI * HTTP/2")) == nil)
        #expect(HTTPVersionDetector.sniff(ByteBuffer(string: "P")) == nil)
        #expect(HTTPVersionDetector.sniff(ByteBuffer(string: "")) == nil)
        #expect(HTTPVersionDetector.sniff(ByteBuffer(string: "POST / HTTP/1.1\r\n")) == .http1)
        #expect(HTTPVersionDetector.sniff(ByteBuffer(string: "PRI * HTTP/1.1\r\n")) == .http1)
        #expect(HTTPVersionDetector.sniff(ByteBuffer(string: "GET / HTTP/1.1\r\n")) == .http1)
    }

    @Test(":authority is the Host; a host header naming the same (any case) goes, one naming another stays beside it for a 400")
    func authority() {
        func reconciled(_ pairs: [(String, String)]) -> [String] {
            var headers = HPACKHeaders(pairs)
            HTTP2AuthorityCheck.reconcile(&headers)
            return headers["host"]
        }
        let base = [(":method", "GET"), (":scheme", "http"), (":authority", "fn.example"), (":path", "/")]
        #expect(reconciled(base) == [])
        #expect(reconciled(base + [("host", "FN.example")]) == [])
        #expect(reconciled(base + [("host", "other.example")]) == ["other.example", "fn.example"])
        #expect(reconciled(base + [("host", "fn.example"), ("host", "other.example")]).count == 3)
    }
}
