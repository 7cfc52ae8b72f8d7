import Foundation
@testable import GatehouseAuthentication
import GatehouseCore
import Testing

@Suite("Login pieces: sealed cookies, PKCE, state replay, return paths, cookie stripping")
struct LoginPiecesTests {
    let sealer = CookieSealer(current: .random(id: 2), previous: .random(id: 1))

    @Test("A sealed cookie opens only for its host and keys; any changed byte, another key or another host is refused")
    func sealing() throws {
        let sealed = sealer.seal(Data("ticket".utf8), boundTo: "fn.default.localhost")
        #expect(sealer.open(Substring(sealed), boundTo: "fn.default.localhost") == Data("ticket".utf8))
        #expect(sealer.open(Substring(sealed), boundTo: "other.default.localhost") == nil, "moved to another host")
        var bytes = Array(sealed.utf8)
        for index in [0, 6, bytes.count / 2, bytes.count - 2] {
            let original = bytes[index]
            bytes[index] = original == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            #expect(sealer.open(Substring(String(decoding: bytes, as: UTF8.self)), boundTo: "fn.default.localhost") == nil, "byte \(index) changed")
            bytes[index] = original
        }
        #expect(CookieSealer(current: .random(id: 2)).open(Substring(sealed), boundTo: "fn.default.localhost") == nil, "another key")
        #expect(sealer.open("", boundTo: "fn.default.localhost") == nil)
        #expect(sealer.open(Substring(String(repeating: "A", count: 5000)), boundTo: "fn.default.localhost") == nil)
    }

    @Test("Rotation: a cookie sealed with the previous key still opens; one sealed with a key retired twice does not")
    func rotation() {
        let old = CookieSealer(current: sealer.previous!)
        let sealed = old.seal(Data("x".utf8), boundTo: "h")
        #expect(sealer.open(Substring(sealed), boundTo: "h") == Data("x".utf8))
        let next = CookieSealer(current: .random(id: 3), previous: sealer.current)
        #expect(next.open(Substring(sealed), boundTo: "h") == nil)
    }

    @Test("PKCE S256 (RFC 7636 appendix B) and random tokens of 43 base64url characters")
    func pkce() {
        #expect(PKCE.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        let tokens = (0..<100).map { _ in PKCE.randomToken() }
        #expect(Set(tokens).count == 100)
        #expect(tokens.allSatisfy { $0.count == 43 && Base64URL.decode(Substring($0))?.count == 32 })
    }

    @Test("A state is used once; a replay is refused; the set stays bounded")
    func stateReplay() {
        let states = ConsumedStates(capacity: 3)
        #expect(states.consume("s1", expires: 100, now: 0))
        #expect(!states.consume("s1", expires: 100, now: 1), "replayed")
        for index in 2...10 { #expect(states.consume("s\(index)", expires: 100 + Int64(index), now: 1)) }
        #expect(!states.consume("s10", expires: 200, now: 2))
    }

    @Test("Only same-host paths are return paths: no open redirect")
    func returnPaths() {
        for good in ["/", "/app?x=1", "/a/b#c", "/%2F%2Fevil.example"] { #expect(ReturnPath.validated(good) == good, "\(good)") }
        for bad in ["//evil.example/", "/\\evil.example", "https://evil.example/", "evil", "", "/\t/evil.example", "/a\nb", "/a\\b",
                    "javascript:alert(1)", " /x"] {
            #expect(ReturnPath.validated(bad) == "/", "\(bad.debugDescription)")
        }
        #expect(ReturnPath.validated(nil) == "/")
    }

    @Test("Gatehouse's cookies are found, and removed from what the function gets; the function's own stay")
    func cookies() {
        let header = "theme=dark; gatehouse_session=abc; gatehouse_login_0123456789abcdef=xyz;lang=en"
        #expect(LoginCookies.value("gatehouse_session", in: header) == "abc")
        #expect(LoginCookies.value(LoginCookies.loginName(for: "0123456789abcdefEXTRA"), in: header) == "xyz")
        #expect(LoginCookies.withoutOurs(header) == .some("theme=dark; lang=en"))
        #expect(LoginCookies.withoutOurs("gatehouse_session=abc") == .some(nil))
        #expect(LoginCookies.withoutOurs("theme=dark") == nil, "nothing of ours: the header is left alone")
        let set = LoginCookies.setSession("v", maxAge: 60, secure: true).value
        #expect(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Secure") && !set.contains("Domain"))
        #expect(!LoginCookies.setSession("v", maxAge: 60, secure: false).value.contains("Secure"))
    }
}
