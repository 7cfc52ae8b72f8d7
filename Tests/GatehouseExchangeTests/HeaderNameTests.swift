import GatehouseExchange
import Testing

@Suite("Header names compared as HTTP does: ASCII letters in any case, nothing else folded")
struct HeaderNameTests {
    @Test("equal names in any case; a different length, letter or non-letter is not equal")
    func equality() {
        #expect(HeaderName.is("X-Request-ID", "x-request-id"))
        #expect(HeaderName.is("x-request-id", "x-request-id"))
        #expect(!HeaderName.is("x-request-i", "x-request-id"))
        #expect(!HeaderName.is("x-request-idd", "x-request-id"))
        #expect(!HeaderName.is("x_request-id", "x-request-id"))
        #expect(!HeaderName.is("x\rrequest-id", "x-request-id"), "only A-Z fold to a-z")
        #expect(!HeaderName.is("", "te") && HeaderName.is("", ""))
    }

    @Test("a prefix in any case; a shorter name never starts with a longer prefix")
    func prefixes() {
        #expect(HeaderName.starts("X-GATEHOUSE-NODE-HOP-TO", with: "x-gatehouse-"))
        #expect(HeaderName.starts("x-gatehouse-", with: "x-gatehouse-"))
        #expect(!HeaderName.starts("x-gatehouse", with: "x-gatehouse-"))
        #expect(!HeaderName.starts("x-gatehousex", with: "x-gatehouse-"))
    }
}
