import Foundation
import GatehouseConfig
import GatehouseCore
import Testing

@Suite("LoginPolicy and the Mesh's oidc providers")
struct LoginPolicyDecodingTests {
    /// A directory with a readable client secret, where the YAML "is": relative paths resolve against it.
    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("login-config-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try "secret\n".write(to: url.appendingPathComponent("sso-secret"), atomically: true, encoding: .utf8)
        return url
    }

    static func mesh(secret: String = "sso-secret", name: String = "sso", extra: String = "") -> String {
        """
        apiVersion: gatehouse.dev/v1
        kind: Mesh
        metadata: {name: mesh}
        spec:
          extensionProviders:
          - name: \(name)
            oidc:
              issuer: https://login.example.com
              clientID: gatehouse
              clientSecretFile: \(secret)
              scopes: [email]
        """ + extra.split(separator: "\n").map { "\n      " + $0 }.joined()
    }

    static func policy(provider: String = "sso") -> String {
        """
        apiVersion: gatehouse.dev/v1
        kind: LoginPolicy
        metadata: {name: staff, namespace: default}
        spec:
          targetRefs: [{kind: Function, name: hello}]
          provider: \(provider)
          sessionLifetime: 1h
        """
    }

    @Test("A LoginPolicy and its oidc provider are read: the secret file resolved against the document's directory, openid always asked")
    func decoded() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let yaml = [functionDocument(), Self.mesh(), Self.policy()].joined(separator: "\n---\n")
        let snapshot = try ConfigLoader.load(yaml: yaml, file: directory.appendingPathComponent("config.yaml").path)
        let provider = try #require(snapshot.mesh.loginProviders.first)
        #expect(provider.name == "sso")
        #expect(provider.issuer == "https://login.example.com")
        #expect(provider.clientID == "gatehouse")
        #expect(provider.clientSecretFile == directory.appendingPathComponent("sso-secret").path)
        #expect(provider.scopes == ["openid", "email"])
        let policy = try #require(snapshot.loginPolicies.first)
        #expect(policy.reference == "default/staff")
        #expect(policy.functions == ["hello"])
        #expect(policy.provider == "sso")
        #expect(policy.sessionLifetime == .seconds(3600))
        #expect(ResourceKinds.resolve("loginpolicies")?.kind == "LoginPolicy")
    }

    @Test("A provider no Mesh declares is refused with the field, the line and a suggestion")
    func unknownProvider() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let yaml = [functionDocument(), Self.mesh(), Self.policy(provider: "ssoo")].joined(separator: "\n---\n")
        let problems = diagnostics(yaml, file: directory.appendingPathComponent("config.yaml").path)
        let problem = try #require(problems.first { $0.field == "spec.provider" })
        #expect(problem.message.contains("LoginPolicy default/staff names provider \"ssoo\", which is not declared"))
        #expect(problem.fix == "did you mean \"sso\"?")
        #expect(problem.location.line > 1)
    }

    @Test("A client secret file that cannot be read is refused at apply")
    func unreadableSecret() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let yaml = [functionDocument(), Self.mesh(secret: "missing-secret"), Self.policy()].joined(separator: "\n---\n")
        let problems = diagnostics(yaml, file: directory.appendingPathComponent("config.yaml").path)
        let problem = try #require(problems.first { $0.field.hasSuffix("oidc.clientSecretFile") })
        #expect(problem.message.contains("cannot read \(directory.appendingPathComponent("missing-secret").path)"))
        #expect(problem.fix != nil)
    }

    @Test("allowedDomains, allowedGroups and groupsClaim are read; domains compared in lower case; the defaults let everyone in")
    func admissionLists() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let extra = "allowedDomains: [example.com, Corp.Example]\nallowedGroups: [eng, \"ops team\"]\ngroupsClaim: roles"
        let yaml = [functionDocument(), Self.mesh(extra: extra), Self.policy()].joined(separator: "\n---\n")
        let provider = try #require(try ConfigLoader.load(yaml: yaml, file: directory.appendingPathComponent("config.yaml").path).mesh.loginProviders.first)
        #expect(provider.allowedDomains == ["example.com", "corp.example"])
        #expect(provider.allowedGroups == ["eng", "ops team"])
        #expect(provider.groupsClaim == "roles")
        let plain = try #require(try ConfigLoader.load(
            yaml: [functionDocument(), Self.mesh(), Self.policy()].joined(separator: "\n---\n"),
            file: directory.appendingPathComponent("config.yaml").path).mesh.loginProviders.first)
        #expect(plain.allowedDomains.isEmpty && plain.allowedGroups.isEmpty && plain.groupsClaim == "groups")
    }

    @Test("Wrong lists are refused with the file, line, field and a fix", arguments: [
        ("allowedDomains: []", "allowedDomains", "an empty list lets nobody log in"),
        ("allowedDomains: [\"@example.com\"]", "allowedDomains", "is not a domain name"),
        ("allowedDomains: [\"*.example.com\"]", "allowedDomains", "is not a domain name"),
        ("allowedDomains: [localhost]", "allowedDomains", "is not a domain name"),
        ("allowedDomains: example.com", "allowedDomains", "expected a list"),
        ("allowedGroups: []", "allowedGroups", "an empty list lets nobody log in"),
        ("allowedGroups: [\"\"]", "allowedGroups", "is empty"),
        ("groupsClaim: roles", "groupsClaim", "is read only to check `allowedGroups`"),
        ("allowedGroups: [eng]\ngroupsClaim: \"\"", "groupsClaim", "must be a claim name"),
        ("allowedDomain: [example.com]", "allowedDomain", "unknown field"),
    ])
    func wrongAdmissionLists(extra: String, field: String, message: String) throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("config.yaml").path
        let yaml = [functionDocument(), Self.mesh(extra: extra), Self.policy()].joined(separator: "\n---\n")
        let problem = try #require(diagnostics(yaml, file: file).first { $0.field.hasSuffix("oidc.\(field)") }, "\(extra)")
        #expect(problem.message.contains(message), "\(problem)")
        #expect(problem.fix != nil, "\(problem)")
        #expect(problem.location.file == file)
        let line = yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(field + ":") }.map { $0 + 1 }
        #expect(problem.location.line == line, "\(problem)")
    }
}
