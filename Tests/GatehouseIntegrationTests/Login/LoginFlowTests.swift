import Foundation
import GatehouseTesting
import Testing

@Suite("LoginPolicy: a person logs in at the gateway through a real OIDC provider", .serialized)
struct LoginFlowTests {
    static let host = "fn.default.localhost"

    /// `providerFields`: more lines for the Mesh's `oidc` entry (`allowedDomains: [...]`, …).
    static func config(issuer: String, providerFields: [String] = []) -> String {
        fixtureFunction(name: "fn") + """
            ---
            apiVersion: gatehouse.dev/v1
            kind: Mesh
            metadata: {name: mesh}
            spec:
              extensionProviders:
              - name: sso
                oidc:
                  issuer: "\(issuer)"
                  clientID: gatehouse-test
                  clientSecretFile: sso-secret
                  scopes: [openid, email]
            \(providerFields.map { "      \($0)\n" }.joined())---
            apiVersion: gatehouse.dev/v1
            kind: LoginPolicy
            metadata: {name: staff, namespace: default}
            spec:
              targetRefs: [{kind: Function, name: fn}]
              provider: sso

            """
    }

    /// Writes the client secret the config names into Gatehouse's directory before it starts.
    static let writeSecret: @Sendable (URL) throws -> Void = { directory in
        try "s3cret-for-the-test\n".write(to: directory.appendingPathComponent("sso-secret"), atomically: true, encoding: .utf8)
    }

    static func query(_ url: String) -> [String: String] {
        Dictionary((URLComponents(string: url)?.queryItems ?? []).map { ($0.name, $0.value ?? "") }) { first, _ in first }
    }

    /// The browser's first visit, through the provider's login form, back to the callback: each hop checked.
    static func logIn(_ browser: CookieBrowser, as subject: String, provider: OIDCProvider) async throws -> (callback: String, loginCookie: (String, String)) {
        let visit = try await browser.get("http://\(host)/hello?x=1")
        #expect(visit.status == 302, "\(visit.body)")
        let authorize = try #require(visit.headers.first(name: "location"))
        #expect(authorize.hasPrefix(provider.issuer + "/oauth2/authorize?"))
        let parameters = query(authorize)
        #expect(parameters["response_type"] == "code")
        #expect(parameters["client_id"] == "gatehouse-test")
        #expect(parameters["code_challenge_method"] == "S256")
        #expect(parameters["code_challenge"]?.count == 43)
        #expect((parameters["state"]?.count ?? 0) >= 32)
        #expect((parameters["nonce"]?.count ?? 0) >= 32)
        #expect(parameters["scope"]?.split(separator: " ").contains("openid") == true)
        let redirectURI = "http://\(host)/.gatehouse/oauth2/callback"
        #expect(parameters["redirect_uri"] == redirectURI)
        let state = try #require(parameters["state"])
        let loginSetCookie = try #require(visit.headers["set-cookie"].first { $0.hasPrefix("gatehouse_login_") })
        #expect(loginSetCookie.contains("HttpOnly") && loginSetCookie.contains("SameSite=Lax") && loginSetCookie.contains("Path=/.gatehouse/oauth2/callback"))
        let loginName = "gatehouse_login_" + state.prefix(16)
        let loginValue = try #require(browser.cookie(loginName, host: host))

        let form = try await browser.get(authorize)
        #expect(form.status == 200)
        #expect(form.body.contains("<form"))
        let submitted = try await browser.post(authorize, form: "sub=\(subject)")
        #expect(submitted.status == 302, "\(submitted.body)")
        let callback = try #require(submitted.headers.first(name: "location"))
        #expect(callback.hasPrefix(redirectURI + "?"))
        #expect(query(callback)["state"] == state)
        #expect(query(callback)["code"] != nil)

        let back = try await browser.get(callback)
        #expect(back.status == 302, "\(back.body)")
        #expect(back.headers.first(name: "location") == "/hello?x=1")
        let session = try #require(back.headers["set-cookie"].first { $0.hasPrefix("gatehouse_session=") })
        #expect(session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/"))
        #expect(!session.contains("Secure") && !session.contains("Domain="), "plain HTTP, host-only")
        #expect(browser.cookie(loginName, host: host) == nil, "the login cookie is cleared")
        return (callback, (loginName, loginValue))
    }

    @Test("Browser login end to end: redirect with PKCE, the provider's form, the callback, the session; the function gets the assertion, never the cookie")
    func browserLogin() async throws {
        try await AssertionVerifier.prepare()  // before any token exists: see there
        let provider = try await OIDCProvider.start()
        defer { provider.stop() }
        try await provider.setUser("alice", claims: ["email": "alice@example.com"])
        let prepare: (URL) throws -> Void = { directory in
            try "s3cret-for-the-test\n".write(to: directory.appendingPathComponent("sso-secret"), atomically: true, encoding: .utf8)
        }
        try await withGatehouse(Self.config(issuer: provider.issuer), prepare: prepare) { gatehouse in
            let browser = CookieBrowser(ingress: gatehouse.ingress)
            let (callback, loginCookie) = try await Self.logIn(browser, as: "alice", provider: provider)
            let sessionCookie = try #require(browser.cookie("gatehouse_session", host: Self.host))

            let page = try await browser.get("http://\(Self.host)/hello?x=1")
            #expect(page.status == 200, "\(page.body)")
            let headers = try #require(page.json["headers"] as? [String: String])
            #expect(headers["cookie"]?.contains("gatehouse_") != true, "Gatehouse's cookies never reach the function")
            let assertion = try #require(headers["x-gatehouse-assertion"])
            let issuer = "http://gatehouse.\(gatehouse.domain):\(try #require(URL(string: gatehouse.ingress)?.port))"
            let claims = try await AssertionVerifier.verify(
                assertion, jwksURL: gatehouse.ingress + "/.well-known/jwks.json", audience: "fn.default.svc.cluster.local", issuer: issuer)
            #expect(claims["sub"] as? String == "\(provider.issuer)/alice")
            #expect(claims["email"] as? String == "alice@example.com")

            // An apply keeps the sessions (and the provider's client): the same cookie still names alice.
            let changed = Self.config(issuer: provider.issuer).replacingOccurrences(of: "provider: sso\n", with: "provider: sso\n  sessionLifetime: 2h\n")
            let applied = try await gatehouse.apply("functions-2.yaml", changed)
            #expect(applied.status == 0, "\(applied.stderr)")
            let afterApply = try await browser.get("http://\(Self.host)/hello")
            #expect(afterApply.status == 200, "\(afterApply.body)")

            // explain runs the same stage without starting a login: a browser would be redirected, an API client refused.
            for (accept, verdict, status) in [("text/html", "respond", 302), ("application/json", "refuse", 401)] {
                let result = try await gatehouse.cli(["explain", "fn", "--header", "accept: \(accept)", "-o", "json"])
                #expect(result.status == 0, "\(result.stderr)")
                let explained = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
                let stage = (explained["stages"] as? [[String: Any]])?.first { $0["stage"] as? String == "login" }
                #expect(stage?["verdict"] as? String == verdict, "\(accept): \(result.stdout)")
                #expect(explained["status"] as? Int == status, "\(accept)")
            }

            // An API client (no text/html) is not redirected: 401 with a challenge.
            let api = try await gatehouse.request("fn", headers: [("accept", "application/json")])
            #expect(api.status == 401)
            #expect(api.headers.first(name: "www-authenticate") == "Bearer realm=\"\(Self.host)\", error=\"login_required\"")

            // The callback again, with or without the login cookie: refused, no new session.
            let replay = try await browser.get(callback)
            #expect(replay.status == 400, "\(replay.body)")
            browser.setCookie(loginCookie.0, value: loginCookie.1, host: Self.host, path: "/.gatehouse/oauth2/callback")
            let replayWithCookie = try await browser.get(callback)
            #expect(replayWithCookie.status == 400, "a used state is refused even with its login cookie: \(replayWithCookie.body)")
            #expect(browser.cookie("gatehouse_session", host: Self.host) == sessionCookie)

            // A tampered session cookie names no one.
            var bytes = Array(sessionCookie.utf8)
            bytes[20] = bytes[20] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            let tampered = try await gatehouse.request("fn", headers: [("cookie", "gatehouse_session=\(String(decoding: bytes, as: UTF8.self))")])
            #expect(tampered.status == 401)

            // Nothing secret in the logs: the callback's code and state are redacted, the cookie never written.
            let code = try #require(Self.query(callback)["code"])
            let state = try #require(Self.query(callback)["state"])
            _ = try await eventually("the callback in the access log") {
                gatehouse.accessLog.first { line in line.values.contains { "\($0)".contains("/.gatehouse/oauth2/callback") } }
            }
            for log in [gatehouse.stderr, gatehouse.accessLog.map { "\($0)" }.joined(separator: "\n")] {
                #expect(!log.contains(code) && !log.contains(state) && !log.contains(sessionCookie) && !log.contains("s3cret-for-the-test"))
            }

            // The cookie keys and the sessions are kept owner-only in the state directory.
            for name in ["login/cookie-keys", "login/sessions.db"] {
                let path = gatehouse.stateDirectory.appendingPathComponent(name).path
                #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600, "\(name)")
            }

            // The session survives a restart, and a rotation of the cookie keys: the current key, made
            // long ago, is retired at start and kept as the previous one, which still opens the cookie.
            _ = try await gatehouse.stop()
            let keysFile = gatehouse.stateDirectory.appendingPathComponent("login/cookie-keys")
            let keys = try String(contentsOf: keysFile, encoding: .utf8).split(separator: "\n")
            #expect(keys.count == 1)
            let aged = keys[0].split(separator: " ").prefix(2).joined(separator: " ") + " 0\n"
            try aged.write(to: keysFile, atomically: true, encoding: .utf8)
            let restarted = try await gatehouse.restart()
            do {
                let rotated = try String(contentsOf: keysFile, encoding: .utf8).split(separator: "\n")
                #expect(rotated.count == 2 && rotated[1] + "\n" == aged, "the old key is kept as the previous one")
                #expect(try FileManager.default.attributesOfItem(atPath: keysFile.path)[.posixPermissions] as? Int == 0o600)
                browser.ingress = restarted.ingress
                let again = try await browser.get("http://\(Self.host)/hello")
                #expect(again.status == 200, "\(again.body)")
                #expect((again.json["headers"] as? [String: String])?["x-gatehouse-assertion"] != nil)

                // Logout ends the session on the server: the old cookie stops working everywhere.
                let logout = try await browser.get("http://\(Self.host)/.gatehouse/oauth2/logout")
                #expect(logout.status == 302, "\(logout.body)")
                #expect(logout.headers.first(name: "location")?.hasPrefix(provider.issuer + "/oauth2/end_session") == true)
                #expect(logout.headers["set-cookie"].contains { $0.hasPrefix("gatehouse_session=;") && $0.contains("Max-Age=0") })
                #expect(browser.cookie("gatehouse_session", host: Self.host) == nil)
                let old = try await RunningGatehouse.send(
                    url: restarted.ingress + "/hello", host: Self.host, method: .GET, headers: [("cookie", "gatehouse_session=\(sessionCookie)")], body: nil)
                #expect(old.status == 401)
                let oldBrowser = try await RunningGatehouse.send(
                    url: restarted.ingress + "/hello", host: Self.host, method: .GET,
                    headers: [("cookie", "gatehouse_session=\(sessionCookie)"), ("accept", "text/html")], body: nil)
                #expect(oldBrowser.status == 302)
            } catch {
                _ = try? await restarted.stop()
                throw error
            }
            _ = try await restarted.stop()
        }
    }
}
