import Testing

@testable import GatehouseListener

/// `X-Request-Id`: a caller's id is echoed in headers and logs only when it is safe to.
@Suite("Request identifiers")
struct RequestIdentifierTests {
    @Test("Sane ids are kept as they are", arguments: [
        "abc", "0f8fad5b-d9cb-469f-a165-70867728950e", "req_42.retry:1/2", String(repeating: "x", count: 128),
    ])
    func accepted(id: String) {
        #expect(RequestIdentifier.accept(id) == id)
    }

    @Test("Missing, empty, over-long, or unsafe ids are refused", arguments: [
        nil, "", String(repeating: "x", count: 129), "two words", "quo\"te", "back\\slash",
        "new\nline", "carriage\rreturn", "tab\t", "nul\u{0}", "del\u{7F}", "é",
    ] as [String?])
    func refused(id: String?) {
        #expect(RequestIdentifier.accept(id) == nil)
    }

    @Test("generate(using:) gives a lowercase RFC 4122 version-4 UUID")
    func generatedShape() {
        var generator = RequestIdentifier.Generator()
        for _ in 0..<100 {
            let id = RequestIdentifier.generate(using: &generator)
            let bytes = Array(id.utf8)
            #expect(bytes.count == 36)
            for (index, byte) in bytes.enumerated() {
                if [8, 13, 18, 23].contains(index) {
                    #expect(byte == UInt8(ascii: "-"), "position \(index) of \(id)")
                } else {
                    #expect(Array("0123456789abcdef".utf8).contains(byte), "position \(index) of \(id)")
                }
            }
            #expect(bytes[14] == UInt8(ascii: "4"), "version nibble of \(id)")
            #expect(Array("89ab".utf8).contains(bytes[19]), "variant nibble of \(id)")
            #expect(RequestIdentifier.accept(id) == id)
        }
    }

    @Test("Generated ids differ, within one connection's generator and across generators")
    func generatedAreUnique() {
        var generator = RequestIdentifier.Generator()
        var other = RequestIdentifier.Generator()
        let ids = (0..<1000).map { _ in RequestIdentifier.generate(using: &generator) }
            + (0..<1000).map { _ in RequestIdentifier.generate(using: &other) }
        #expect(Set(ids).count == ids.count)
    }
}
