import GatehouseExchange
import Testing

/// The checks that keep what Gatehouse adds to a message from splitting it.
@Suite("Field syntax")
struct FieldSyntaxTests {
    /// RFC 9110 §5.6.2, spelled out.
    static let tchars = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)

    @Test("A token is one or more tchars: every byte from 0 to 255 is judged as RFC 9110 says, alone and inside a name")
    func tokens() {
        for byte in UInt8.min...UInt8.max {
            let alone = String(decoding: [byte], as: UTF8.self)
            let inside = String(decoding: Array("x-a".utf8) + [byte] + Array("b".utf8), as: UTF8.self)
            let expected = Self.tchars.contains(byte)
            #expect(FieldSyntax.isToken(inside) == expected, "byte \(byte)")
            if byte < 0x80 { #expect(FieldSyntax.isToken(alone) == expected, "byte \(byte)") }
        }
        #expect(!FieldSyntax.isToken(""))
    }

    @Test("A value refuses every control byte but HTAB, and DEL, wherever it stands (in the 16-byte blocks or the tail); obs-text passes")
    func values() {
        for length in [1, 15, 16, 17, 31, 32, 47, 700] {
            for position in Set([0, length / 2, length - 1]) {
                for byte in UInt8.min...UInt8.max where byte < 0x80 {
                    var bytes = Array(repeating: UInt8(ascii: "a"), count: length)
                    bytes[position] = byte
                    let refused = (byte < 0x20 && byte != 0x09) || byte == 0x7F
                    #expect(FieldSyntax.isFieldValue(String(decoding: bytes, as: UTF8.self)) == !refused, "byte \(byte) at \(position) of \(length)")
                }
            }
        }
        #expect(FieldSyntax.isFieldValue("") && FieldSyntax.isFieldValue("Zoë \u{FF}"))
        // obs-text filling whole 16-byte blocks (é is 0xC3 0xA9), with a CR after it or not.
        #expect(FieldSyntax.isFieldValue(String(repeating: "é", count: 32)))
        #expect(!FieldSyntax.isFieldValue(String(repeating: "é", count: 32) + "\r\n" + String(repeating: "é", count: 8)))
    }

    @Test("A request target refuses spaces and control bytes, and nothing else")
    func targets() {
        for byte in UInt8.min..<0x80 {
            let target = "/items/" + String(decoding: [byte], as: UTF8.self) + String(repeating: "x", count: 20)
            #expect(FieldSyntax.isRequestTarget(target) == (byte > 0x20 && byte != 0x7F), "byte \(byte)")
        }
        #expect(!FieldSyntax.isRequestTarget(""))
    }
}
