import Foundation
import GatehouseTesting
import Testing

/// Agents acting for people: RFC 8693 token exchange at Gatehouse, with a real OIDC provider for
/// the person and real SVIDs (mutual TLS) or a JWT of its own for the agent.
@Suite("Token exchange: an agent acts for a person, and policy and audit see both", .serialized)
struct TokenExchangeTests {
    static let bot = "spiffe://cluster.local/ns/default/sa/bot"
    static let planner = "spiffe://cluster.local/ns/default/sa/planner"
    static let form = [("content-type", "application/x-www-form-urlencoded")]

    static let labbot = "spiffe://cluster.local/ns/lab/sa/labbot"

    /// `lab` trusts the provider's issuer name through a test key of its own: what it accepts
    /// proves nothing where the real keys are the ones trusted.
    static func config(provider: String, agentIssuer: TestIssuer, labKey: TestIssuer? = nil) throws -> String {
        let labKey = try labKey ?? TestIssuer(issuer: provider)
        return fixtureFunction(name: "hello") + "---\n" + fixtureFunction(name: "shallow") + "---\n"
            + fixtureFunction(name: "bot", spec: "serviceAccount: bot") + "---\n"
            + fixtureFunction(name: "labbot", namespace: "lab", spec: "serviceAccount: labbot") + """
            ---
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: people, namespace: default}
            spec:
              jwtRules:
              - issuer: "\(provider)"
                audiences: ["gatehouse-test"]
                outputClaimToHeaders: [{header: x-person, claim: email}]
              - issuer: "\(agentIssuer.issuer)"
                jwks: '\(try agentIssuer.jwks())'
            ---
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: lab-keys, namespace: lab}
            spec:
              jwtRules:
              - issuer: "\(provider)"
                jwks: '\(try labKey.jwks())'
            ---
            apiVersion: gatehouse.dev/v1
            kind: DelegationPolicy
            metadata: {name: agents-for-people, namespace: default}
            spec:
              targetRefs: [{kind: Function, name: hello}]
              actors: ["\(bot)", "\(labbot)", "\(agentIssuer.issuer)/agent-7"]
              subjects: ["\(provider)/*"]
              maxDepth: 2
            ---
            apiVersion: gatehouse.dev/v1
            kind: DelegationPolicy
            metadata: {name: planner-to-bot, namespace: default}
            spec:
              targetRefs: [{kind: Function, name: bot}]
              actors: ["\(planner)"]
              subjects: ["*"]
            ---
            apiVersion: gatehouse.dev/v1
            kind: DelegationPolicy
            metadata: {name: shallow, namespace: default}
            spec:
              targetRefs: [{kind: Function, name: shallow}]
              actors: ["\(bot)"]
              subjects: ["*"]
              maxDepth: 1
            ---
            apiVersion: gatehouse.dev/v1
            kind: RateLimitPolicy
            metadata: {name: per-agent, namespace: default}
            spec:
              targetRefs: [{kind: Function, name: hello}]
              perCaller: actor
              tokenBucket: {maxTokens: 2, fillInterval: 1h}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: no-agents-on-admin, namespace: default}
            spec:
              action: DENY
              rules:
              - to: [{operation: {paths: ["/admin*"]}}]
                when: [{key: request.auth.actors, values: ["*"]}]

            """
    }

    static func formBody(_ fields: [(String, String)]) -> [UInt8] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return Array(fields.map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&").utf8)
    }

    static func exchangeFields(subject: String, audience: String, scope: String? = nil) -> [(String, String)] {
        var fields = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"), ("subject_token", subject),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"), ("audience", audience),
        ]
        if let scope { fields.append(("scope", scope)) }
        return fields
    }

    /// POSTs to the token endpoint on the mesh listener with the agent's SVID.
    static func exchange(_ gatehouse: RunningGatehouse, svid: URL?, _ fields: [(String, String)]) async throws -> RunningGatehouse.Response {
        try await MeshClient.request(
            gatehouse.mesh, host: "gatehouse.\(gatehouse.domain)", path: "/.gatehouse/oauth2/token", method: .POST,
            certificate: svid?.appendingPathComponent("cert.pem"), key: svid?.appendingPathComponent("key.pem"),
            bundle: gatehouse.stateDirectory.appendingPathComponent("ca/root-cert.pem"), headers: form, body: formBody(fields))
    }

    /// The claims of a JWT's payload, unverified (the function verifies; this reads what it got).
    static func claims(_ token: String) -> [String: Any] {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return [:] }
        var payload = String(parts[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
        guard let data = Data(base64Encoded: payload) else { return [:] }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    @Test("An agent with its SVID gets a token for a person; the function sees both; agents are denied /admin the person may reach; scopes only narrow; the audit shows the chain")
    func agentActsForPerson() async throws {
        try await AssertionVerifier.prepare()  // before any token exists: see there
        let provider = try await OIDCProvider.start()
        defer { provider.stop() }
        try await provider.setUser("alice", claims: ["email": "alice@example.com", "scope": "read write"])
        let alice = try await provider.idToken(for: "alice")
        let agentIssuer = try TestIssuer(issuer: "https://agents.test")

        try await withGatehouse(try Self.config(provider: provider.issuer, agentIssuer: agentIssuer)) { gatehouse in
            let metadata = try await RunningGatehouse.send(
                url: gatehouse.ingress + "/.well-known/oauth-authorization-server", host: "x.example", method: .GET, headers: [], body: nil)
            let issuer = try #require(metadata.json["issuer"] as? String)
            #expect(metadata.json["token_endpoint"] as? String == issuer + "/.gatehouse/oauth2/token")

            let botSVID = try await gatehouse.issueSVID(Self.bot)
            let granted = try await Self.exchange(gatehouse, svid: botSVID, Self.exchangeFields(subject: alice, audience: "hello.default.svc.cluster.local", scope: "read"))
            #expect(granted.status == 200, "\(granted.body)")
            #expect(granted.headers.first(name: "cache-control") == "no-store")
            let token = try #require(granted.json["access_token"] as? String)
            #expect(granted.json["token_type"] as? String == "Bearer")
            #expect(granted.json["scope"] as? String == "read")
            #expect(granted.json["issued_token_type"] as? String == "urn:ietf:params:oauth:token-type:access_token")
            let tokenClaims = Self.claims(token)
            #expect(tokenClaims["sub"] as? String == "\(provider.issuer)/alice")
            #expect((tokenClaims["act"] as? [String: Any])?["sub"] as? String == Self.bot)

            // The function sees the person and the agent, in an assertion it can verify; not the token.
            let called = try await gatehouse.request("hello", headers: [("authorization", "Bearer \(token)")])
            #expect(called.status == 200, "\(called.body)")
            let headers = called.json["headers"] as? [String: String] ?? [:]
            #expect(headers["authorization"] == nil, "the delegated token stays at the gateway")
            // The trace names the person and the agent.
            let calledId = try #require(called.headers.first(name: "x-request-id"))
            let trace = try await gatehouse.cli(["trace", calledId, "-o", "json"])
            #expect(trace.stdout.contains("gatehouse.request.actors") && trace.stdout.contains(Self.bot), "\(trace.stdout.prefix(400))")
            let assertion = try #require(headers["x-gatehouse-assertion"])
            let asserted = try await AssertionVerifier.verify(
                assertion, jwksURL: gatehouse.ingress + "/.well-known/jwks.json", audience: "hello.default.svc.cluster.local", issuer: issuer)
            #expect(asserted["sub"] as? String == "\(provider.issuer)/alice")
            #expect((asserted["act"] as? [String: Any])?["sub"] as? String == Self.bot)

            // An assertion is for the function to read, never a bearer credential.
            let replayed = try await gatehouse.request("hello", headers: [("authorization", "Bearer \(assertion)")])
            #expect(replayed.status == 401, "an X-Gatehouse-Assertion is not accepted as a token")
            #expect(replayed.json["reason"] as? String == "jwt_wrong_type")

            // A DENY on /admin for any agent; alice herself may reach it.
            #expect(try await gatehouse.request("hello", path: "/admin", headers: [("authorization", "Bearer \(token)")]).status == 403)
            #expect(try await gatehouse.request("hello", path: "/admin", headers: [("authorization", "Bearer \(alice)")]).status == 200)
            // Only for its audience: the same token at another function is refused.
            let elsewhere = try await gatehouse.request("shallow", headers: [("authorization", "Bearer \(token)")])
            #expect(elsewhere.status == 401)
            #expect(elsewhere.json["reason"] as? String == "jwt_audience_not_allowed")

            // Scopes only narrow.
            let widened = try await Self.exchange(gatehouse, svid: botSVID, Self.exchangeFields(subject: alice, audience: "hello.default.svc.cluster.local", scope: "read admin"))
            #expect(widened.status == 400)
            #expect(widened.json["error"] as? String == "invalid_scope")
            #expect(widened.json["requestId"] as? String != nil)

            // No agent credential: 401 invalid_client. An agent no policy lists: unauthorized_client.
            let anonymous = try await RunningGatehouse.send(
                url: gatehouse.ingress + "/.gatehouse/oauth2/token", host: "gatehouse.\(gatehouse.domain)", method: .POST, headers: Self.form,
                body: Self.formBody(Self.exchangeFields(subject: alice, audience: "hello.default.svc.cluster.local")))
            #expect(anonymous.status == 401)
            #expect(anonymous.json["error"] as? String == "invalid_client")
            let strangerSVID = try await gatehouse.issueSVID("spiffe://cluster.local/ns/default/sa/stranger")
            let stranger = try await Self.exchange(gatehouse, svid: strangerSVID, Self.exchangeFields(subject: alice, audience: "hello.default.svc.cluster.local"))
            #expect(stranger.status == 400)
            #expect(stranger.json["error"] as? String == "unauthorized_client")
            #expect(stranger.json["reason"] as? String == "delegation_actor_not_allowed")
            #expect(!stranger.body.contains("agents-for-people"), "a refusal names no policy")

            // An agent with a JWT of its own (RFC 7523 client_assertion, addressed to Gatehouse).
            let clientAssertion = try agentIssuer.token(subject: "agent-7", claims: ["aud": issuer + "/.gatehouse/oauth2/token"])
            let byJWT = try await RunningGatehouse.send(
                url: gatehouse.ingress + "/.gatehouse/oauth2/token", host: "gatehouse.\(gatehouse.domain)", method: .POST, headers: Self.form,
                body: Self.formBody(Self.exchangeFields(subject: alice, audience: "hello.default.svc.cluster.local") + [
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), ("client_assertion", clientAssertion),
                ]))
            #expect(byJWT.status == 200, "\(byJWT.body)")

            // perCaller: actor — bot has spent its two tokens (one above, one here); agent-7 and alice have their own.
            // (The second call hits the verified-token cache: a forged rule output header is still removed.)
            let forgedHeader = try await gatehouse.request("hello", headers: [("authorization", "Bearer \(token)"), ("x-person", "admin@evil.example")])
            #expect(forgedHeader.status == 200)
            #expect((forgedHeader.json["headers"] as? [String: String])?["x-person"] == nil, "a rule's output header is never the caller's")
            #expect(try await gatehouse.request("hello", headers: [("authorization", "Bearer \(token)")]).status == 429)
            let agentToken = try #require(byJWT.json["access_token"] as? String)
            #expect(try await gatehouse.request("hello", headers: [("authorization", "Bearer \(agentToken)")]).status == 200)
            #expect(try await gatehouse.request("hello", headers: [("authorization", "Bearer \(alice)")]).status == 200)
            let otherAudience = try agentIssuer.token(subject: "agent-7", claims: ["aud": "https://somewhere.else"])
            let misaddressed = try await RunningGatehouse.send(
                url: gatehouse.ingress + "/.gatehouse/oauth2/token", host: "gatehouse.\(gatehouse.domain)", method: .POST, headers: Self.form,
                body: Self.formBody(Self.exchangeFields(subject: alice, audience: "hello.default.svc.cluster.local") + [
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), ("client_assertion", otherAudience),
                ]))
            #expect(misaddressed.status == 401, "a client JWT addressed elsewhere does not authenticate here")

            // The audit log has the exchange and the denied call, each with the chain.
            let records = try await eventually("the exchange and the denial in the audit log") {
                let result = try await gatehouse.cli(["audit", "-o", "json", "--limit", "1000", "--principal", Self.bot])
                let all = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]] ?? []
                let kinds = Set(all.compactMap { $0["kind"] as? String })
                return kinds.isSuperset(of: ["token.exchanged", "request.denied", "token.refused"]) ? all : nil
            }
            let exchanged = try #require(records.first { $0["kind"] as? String == "token.exchanged" })
            #expect(exchanged["requestPrincipal"] as? String == "\(provider.issuer)/alice")
            #expect(exchanged["actors"] as? [String] == [Self.bot])
            #expect(exchanged["policy"] as? String == "default/agents-for-people")
            let denied = try #require(records.first { $0["kind"] as? String == "request.denied" })
            #expect(denied["actors"] as? [String] == [Self.bot])
            #expect(records.contains { $0["kind"] as? String == "token.refused" && ($0["reason"] as? String)?.hasPrefix("exchange_scope_widened") == true })

            for secret in [token, alice, clientAssertion] {
                #expect(!gatehouse.stderr.contains(secret), "tokens are not logged")
                #expect(!gatehouse.accessLog.description.contains(secret), "tokens are not in the access log")
            }
        }
    }

    @Test("A chain: planner acts for alice towards bot, bot extends it towards hello; a chain deeper than the policy allows and a token given to another agent are refused")
    func chains() async throws {
        let provider = try await OIDCProvider.start()
        defer { provider.stop() }
        try await provider.setUser("alice", claims: ["email": "alice@example.com"])
        let alice = try await provider.idToken(for: "alice")

        let labKey = try TestIssuer(issuer: provider.issuer)
        try await withGatehouse(try Self.config(provider: provider.issuer, agentIssuer: try TestIssuer(issuer: "https://agents.test"), labKey: labKey)) { gatehouse in
            let plannerSVID = try await gatehouse.issueSVID(Self.planner)
            let botSVID = try await gatehouse.issueSVID(Self.bot)
            let first = try await Self.exchange(gatehouse, svid: plannerSVID, Self.exchangeFields(subject: alice, audience: "bot.default.svc.cluster.local"))
            #expect(first.status == 200, "\(first.body)")
            let forBot = try #require(first.json["access_token"] as? String)

            // bot extends the chain with the token it was given: act {bot, act {planner}}.
            let second = try await Self.exchange(gatehouse, svid: botSVID, Self.exchangeFields(subject: forBot, audience: "hello.default.svc.cluster.local"))
            #expect(second.status == 200, "\(second.body)")
            let forHello = try #require(second.json["access_token"] as? String)
            let act = Self.claims(forHello)["act"] as? [String: Any]
            #expect(act?["sub"] as? String == Self.bot)
            #expect((act?["act"] as? [String: Any])?["sub"] as? String == Self.planner)
            let called = try await gatehouse.request("hello", headers: [("authorization", "Bearer \(forHello)")])
            #expect(called.status == 200, "\(called.body)")

            // shallow allows bot one level only: a two-agent chain is refused.
            let deep = try await Self.exchange(gatehouse, svid: botSVID, Self.exchangeFields(subject: forBot, audience: "shallow.default.svc.cluster.local"))
            #expect(deep.status == 400)
            #expect(deep.json["reason"] as? String == "delegation_too_deep")
            // labbot's namespace accepts a token signed with a test key under the provider's issuer
            // name; the assertion its function gets does not carry that person to hello, whose rules
            // trust the provider's real keys.
            let forged = try labKey.token(subject: "alice")
            let atLab = try await gatehouse.request("labbot.lab", headers: [("authorization", "Bearer \(forged)")])
            #expect(atLab.status == 200, "\(atLab.body)")
            let labAssertion = try #require((atLab.json["headers"] as? [String: String])?["x-gatehouse-assertion"])
            let labbotSVID = try await gatehouse.issueSVID(Self.labbot)
            let laundered = try await Self.exchange(gatehouse, svid: labbotSVID, [
                ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"), ("subject_token", labAssertion),
                ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"), ("audience", "hello.default.svc.cluster.local"),
            ])
            #expect(laundered.status == 400, "\(laundered.body)")
            #expect(laundered.json["reason"] as? String == "exchange_subject_issuer_not_trusted")
            // The planner cannot reuse the token it got for bot: it was given to bot.
            let reused = try await Self.exchange(gatehouse, svid: plannerSVID, Self.exchangeFields(subject: forBot, audience: "hello.default.svc.cluster.local"))
            #expect(reused.status == 400)
            #expect(reused.json["reason"] as? String == "exchange_subject_not_for_actor")
        }
    }

    @Test("Protected resource metadata (RFC 9728) on a function's host names its issuers; a 401 points at it")
    func protectedResourceMetadata() async throws {
        let provider = try await OIDCProvider.start()
        defer { provider.stop() }
        let config = try Self.config(provider: provider.issuer, agentIssuer: try TestIssuer(issuer: "https://agents.test"))
            + "---\n" + fixtureFunction(name: "plain", namespace: "open")
        try await withGatehouse(config) { gatehouse in
            let port = try #require(URL(string: gatehouse.ingress)?.port)
            let metadata = try await gatehouse.request("hello", path: "/.well-known/oauth-protected-resource")
            #expect(metadata.status == 200, "\(metadata.body)")
            // The resource is the URL as the client named it (its Host header, here without a port).
            #expect(metadata.json["resource"] as? String == "http://hello.default.\(gatehouse.domain)")
            let servers = metadata.json["authorization_servers"] as? [String] ?? []
            #expect(servers.first == provider.issuer)
            #expect(servers.contains("http://gatehouse.\(gatehouse.domain):\(port)"), "Gatehouse issues tokens for hello: \(servers)")
            let suffixed = try await gatehouse.request("hello", path: "/.well-known/oauth-protected-resource/api/v1")
            // On a function that takes no tokens the path is the function's own.
            let plain = try await gatehouse.request("plain.open", path: "/.well-known/oauth-protected-resource")
            #expect(plain.json["pid"] != nil && plain.json["resource"] == nil, "the function answered: \(plain.body)")
            #expect(suffixed.json["resource"] as? String == "http://hello.default.\(gatehouse.domain)/api/v1")

            let refused = try await gatehouse.request("hello", headers: [("authorization", "Bearer not.a.token")])
            #expect(refused.status == 401)
            let challenge = refused.headers.first(name: "www-authenticate") ?? ""
            #expect(challenge.hasPrefix("Bearer resource_metadata=\"http://hello.default.\(gatehouse.domain)/.well-known/oauth-protected-resource\""), "\(challenge)")
            #expect(challenge.contains("error=\"invalid_token\""))
        }
    }
}
