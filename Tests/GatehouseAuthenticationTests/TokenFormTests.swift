import Foundation
@testable import GatehouseAuthentication
import GatehouseTesting
import Testing

/// RFC 7515/7519 say what a receiver must (or may) refuse; each case here is signed with the
/// trusted key, so only the form of the token can be the reason it is refused.
@Suite("RequestAuthentication: tokens by the standards")
struct TokenFormTests {
    let issuer: TestIssuer
    let checker: JWTAuthenticator
    let expires = Int(Date().timeIntervalSince1970) + 3600

    init() throws {
        issuer = try TestIssuer()
        checker = authenticator([.init(issuer: issuer.issuer, jwks: try issuer.jwks())])
    }

    func refusal(_ token: String) async -> AuthenticationFailure? {
        await authenticate(checker, .bearer(token))?.failure
    }

    @Test("A header with crit is refused: Gatehouse implements no JWS extension (RFC 7515 §4.1.11)")
    func critical() async throws {
        let headers: [(String, [String: any Sendable])] = [
            ("crit naming a claim", ["crit": ["exp"], "exp": expires]),
            ("crit naming an extension", ["crit": ["b64"], "b64": false]),
            ("empty crit", ["crit": [String]()]),
            ("crit not a list", ["crit": "exp"]),
            ("crit of numbers", ["crit": [1]]),
        ]
        for (name, header) in headers {
            #expect(await refusal(try issuer.token(header: header)) == .criticalExtension, "\(name)")
        }
        let null = try issuer.token(headerJSON: #"{"alg":"RS256","crit":null,"kid":"key-1"}"#, payloadJSON: #"{"iss":"https://issuer.test","sub":"a","exp":\#(expires)}"#)
        #expect(await refusal(null) == .criticalExtension, "crit: null")
        #expect(await authenticate(checker, .bearer(try issuer.token()))?.success != nil, "the same token without crit verifies")
    }

    @Test("Claims or a header that repeat a member name are refused, at any depth and however the name is escaped")
    func duplicateMembers() async throws {
        let claims = #""iss":"https://issuer.test","exp":\#(expires)"#
        let payloads = [
            ("top-level sub twice", #"{"sub":"alice","sub":"admin",\#(claims)}"#),
            ("escaped repeat", #"{"sub":"alice","s\u0075b":"admin",\#(claims)}"#),
            ("repeat in a nested object", #"{"sub":"alice","groups":{"role":"user","role":"admin"},\#(claims)}"#),
            ("repeat inside an array's object", #"{"sub":"alice","list":[{"a":1,"a":2}],\#(claims)}"#),
            ("iss twice", #"{"sub":"alice","iss":"https://evil.test",\#(claims)}"#),
        ]
        for (name, payload) in payloads {
            #expect(await refusal(try issuer.token(headerJSON: issuer.headerJSON, payloadJSON: payload)) == .duplicateMember, "\(name)")
        }
        let header = #"{"alg":"RS256","kid":"key-1","kid":"key-2"}"#
        #expect(await refusal(try issuer.token(headerJSON: header, payloadJSON: #"{"sub":"alice",\#(claims)}"#)) == .duplicateMember)
        // The same names at different depths, or in sibling objects, are not repeats.
        let distinct = #"{"sub":"alice","a":{"sub":"x"},"b":{"sub":"y"},"c":[{"k":1},{"k":2}],\#(claims)}"#
        let accepted = await authenticate(checker, .bearer(try issuer.token(headerJSON: issuer.headerJSON, payloadJSON: distinct)))
        #expect(accepted?.success?.jwt.subject == "alice")
    }

    @Test("Segments that are not canonical base64url without padding are refused, the signature's too")
    func encodings() async throws {
        let valid = try issuer.token()
        let parts = valid.split(separator: ".").map(String.init)
        // Claims whose length needs padding (not a multiple of 3 bytes), so the padded and the
        // standard-alphabet spellings really differ from the canonical one.
        var payload = #"{"iss":"https://issuer.test","sub":"alice","exp":\#(expires)}"#
        while payload.utf8.count % 3 != 1 { payload = payload.replacingOccurrences(of: "alice", with: "alice ") }
        let standard = Data(payload.utf8).base64EncodedString()
        #expect(standard.hasSuffix("=="))
        let signature = parts[2]
        #expect(signature.count % 4 == 2, "an RS256 signature of 256 bytes leaves a 2-character tail")
        let cases: [(String, String)] = [
            ("padded signature", parts[0] + "." + parts[1] + "." + signature + "=="),
            ("signature with + and /", parts[0] + "." + parts[1] + "." + "+/" + signature.dropFirst(2)),
            ("signature with stray bits", parts[0] + "." + parts[1] + "." + signature.dropLast() + Self.withLowBitSet(signature.last!, length: signature.count)),
            ("signature of 4n+1 characters", parts[0] + "." + parts[1] + "." + signature + "AAA"),
            ("padded payload, signed as sent", try issuer.token(headerSegment: parts[0], payloadSegment: TestIssuer.base64URL(Data(payload.utf8)) + "==")),
            ("standard base64 payload, signed as sent", try issuer.token(headerSegment: parts[0], payloadSegment: standard)),
            ("padded header, signed as sent", try issuer.token(headerSegment: parts[0] + "=", payloadSegment: parts[1])),
        ]
        for (name, token) in cases {
            #expect(await refusal(token) == .notCanonicalEncoding, "\(name)")
        }
        #expect(await authenticate(checker, .bearer(valid))?.success != nil)
    }

    @Test("Base64url: the canonical text decodes; whitespace, padding, other alphabets and stray bits do not")
    func base64URL() {
        #expect(Base64URL.decode("") == [])
        #expect(Base64URL.decode("_-8") == [0xff, 0xef])
        #expect(Base64URL.decode("AQ") == [0x01])
        #expect(Base64URL.decode("AQI") == [0x01, 0x02])
        #expect(Base64URL.decode("AQID") == [0x01, 0x02, 0x03])
        for text in ["AQ==", "AQI=", "AR", "AQJ", "A", "AQIDB", "AQ I", "AQ\nI", "+/8", "AQ%3D", "AQ.I"] {
            #expect(Base64URL.decode(Substring(text)) == nil, "\(text)")
        }
    }

    @Test("The member-name scan follows strings, escapes and nesting, and stops at a bounded depth")
    func memberNames() {
        func check(_ text: String) -> JSONMemberNames.Finding? { JSONMemberNames.check(Array(text.utf8)) }
        #expect(check(#"{"a":"x\"y","a":1}"#) == .duplicate, "an escaped quote does not end the string")
        #expect(check(#"{"a":"{\"b\":1,\"b\":2}"}"#) == nil, "braces inside a string are text")
        #expect(check(#"{"\u00e9":1,"é":2}"#) == .duplicate)
        #expect(check(#"{"e\u0301":1,"é":2}"#) == .duplicate, "canonically equivalent names are the same name")
        #expect(check(#" { "a" : [ 1 , { "a" : true } ] , "b" : null } "#) == nil)
        #expect(check(#"{"a":1,}"#) == .invalid)
        #expect(check(#"{"a":1} x"#) == .invalid)
        #expect(check(#"{"a":"unterminated}"#) == .invalid)
        let deep = String(repeating: "[", count: JSONMemberNames.maximumDepth) + String(repeating: "]", count: JSONMemberNames.maximumDepth)
        #expect(check(#"{"a":\#(deep)}"#) == .invalid, "nesting past the bound is refused, not followed")
    }

    /// The last character of a base64url text with its lowest (unused) bit set; the text's length
    /// must leave a 2- or 3-character tail (an RS256 signature of 256 bytes leaves 2).
    static func withLowBitSet(_ last: Character, length: Int) -> String {
        precondition(length % 4 >= 2)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        return String(alphabet[alphabet.firstIndex(of: last)! | 1])
    }
}
