import ArgumentParser
import Foundation
import GatehouseConfig
import GatehouseAuthentication
import GatehouseAuthorization
import Logging
import GatehouseCore
import GatehouseGateway
import GatehouseStore

struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Say what Gatehouse would do with a request, and why: the function it reaches, the decision, every policy.",
        discussion: """
            Evaluates a hypothetical request with the same routing and authorization engine the gateway runs, against
            the files given with -f, or against the running Gatehouse's config. For every AuthorizationPolicy that
            applies to the function it prints whether it matched, and for each rule that did not, the first condition
            that failed.
              gatehouse explain hello --method DELETE --path /admin -H 'x-team: ops'
            """)

    @Argument(help: "The function the request is for (or give --host).")
    var function: String?

    @Option(name: .shortAndLong, help: "The function's namespace.")
    var namespace: String = FunctionSpec.defaultNamespace

    @Option(help: "The Host header (default: FUNCTION.NAMESPACE.<domain>).")
    var host: String?

    @Option(name: .shortAndLong, help: "HTTP method.")
    var method: String = "GET"

    @Option(help: "Request path, with its query if any.")
    var path: String = "/"

    @Option(name: [.customShort("H"), .long], help: "A request header NAME:VALUE (repeatable).")
    var header: [String] = []

    @Option(help: "The port the request arrives on (default: the running ingress's, or the Mesh's with -f).")
    var port: Int?

    @Option(help: "The caller's address (the direct peer).")
    var sourceIP: String?

    @Option(help: "The original client's address behind trusted proxies (default: --source-ip).")
    var remoteIP: String?

    @Option(help: "The caller's verified workload identity, e.g. cluster.local/ns/default/sa/billing.")
    var sourcePrincipal: String?

    @Option(help: "The verified JWT's iss/sub (without its claims; see --jwt and --claims).")
    var requestPrincipal: String?

    @Option(help: "A JWT, verified as the gateway would (its issuer's keys are fetched if the rule names them by URL).")
    var jwt: String?

    @Option(help: "A JSON file of token claims (iss, sub, aud, groups, …), taken as verified.")
    var claims: String?

    @Option(name: [.customShort("f"), .customLong("filename")], help: "Evaluate against these files instead of the running config (repeatable).")
    var paths: [String] = []

    @Option(help: "Print the decision recorded for a real request instead (from its x-request-id).")
    var requestId: String?

    @Option(name: .shortAndLong, help: "table (for people) or json.")
    var output: OutputFormat = .table

    @OptionGroup var connection: AdminConnectionOptions

    func validate() throws {
        if requestId == nil, (function == nil) == (host == nil) {
            throw ValidationError("name the function, or give --host (or --request-id for a real request)")
        }
        for entry in header where !entry.contains(":") {
            throw ValidationError("--header \(entry): write NAME:VALUE, for example --header 'x-team: billing'")
        }
        if output == .yaml { throw ValidationError("explain prints table or json") }
        if jwt != nil, claims != nil { throw ValidationError("give --jwt or --claims, not both") }
    }

    func run() async throws {
        if let requestId { return try await explainRecorded(requestId) }
        let (snapshot, ingressPort) = try await explainedConfig(paths: paths, connection: connection)
        var headers: [String: String] = [:]
        for entry in header {
            let colon = entry.firstIndex(of: ":")!
            headers[entry[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] =
                entry[entry.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let request = RequestExplainer.Request(
            method: method, host: host ?? "\(function!).\(namespace).\(snapshot.mesh.domain)", path: path,
            port: port ?? ingressPort, headers: headers,
            sourceIP: sourceIP, remoteIP: remoteIP, sourcePrincipal: sourcePrincipal, requestPrincipal: requestPrincipal,
            jwt: jwt, claims: try claims.map(Self.readClaims))
        let explanation = try await withControlPlaneClient { client in
            await RequestExplainer(snapshot: snapshot, keys: KeyDirectory(client: client, prefetch: false, logger: quietLogger)).explain(request)
        }
        if output == .json { return try printJSON(explanation) }
        print(Self.render(explanation), terminator: "")
    }

    private static func readClaims(_ file: String) throws -> [String: ClaimValue] {
        guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
        do {
            return try JSONDecoder().decode([String: ClaimValue].self, from: data)
        } catch {
            throw CommandFailure("\(file): not a JSON object of claims (\(error.localizedDescription)); write e.g. {\"iss\": \"https://issuer\", \"sub\": \"alice\"}")
        }
    }

    private func explainRecorded(_ requestId: String) async throws {
        let entries = try await connection.connect().get("/api/v1/decisions/\(requestId.queryEscaped)", as: [DecisionEntry].self)
        if output == .json { return try printJSON(entries) }
        if entries.count > 1 { print("\(entries.count) requests used this id; each decision, oldest first:\n") }
        for entry in entries {
            var text = "Request:   \(entry.requestId) at \(entry.at.formatted(.iso8601))\n"
            text += "           \(entry.method) \(entry.host) \(entry.path)\(entry.sourceAddress.map { " from \($0)" } ?? "")\n"
            text += "Function:  \(entry.function)\n"
            text += "Result:    \(entry.outcome == "allow" ? "allowed" : "denied"): \(entry.reason)\n"
            if let policy = entry.policy { text += "Decided by: \(policy) rule \(entry.rule.map(String.init) ?? "?")\n" }
            for line in entry.audited { text += "Audited by: \(line)\n" }
            for line in entry.dryRun { text += "Dry run:   \(line)\n" }
            print(text)
        }
    }

    static func render(_ explanation: RequestExplainer.Explanation) -> String {
        let request = explanation.request
        var text = "Request:   \(request.method) \(request.host) \(request.path)"
        if explanation.route?.rewrittenPath != nil {
            text += " (policies see the rewritten \(explanation.normalizedPath))"
        } else if explanation.normalizedPath != PathNormalization.split(request.path).path {
            text += " (normalized to \(explanation.normalizedPath))"
        }
        text += "\nCaller:    peer \(request.sourcePrincipal ?? "none (plaintext)")"
        text += request.sourceIP.map { ", address \($0)" } ?? ""
        let authentication = explanation.authentication
        switch authentication.result {
        case "verified": text += "\nJWT:       verified, \(authentication.principal ?? "?") (RequestAuthentication \(authentication.policy ?? "?"))"
        case "assumed": text += "\nJWT:       \(authentication.principal ?? "?") (claims given, taken as verified)"
        case "refused": text += "\nJWT:       refused, \(authentication.reason ?? "")"
        default: text += "\nJWT:       \(authentication.principal.map { "\($0) (given)" } ?? "none")\(authentication.reason.map { authentication.principal == nil && $0 != "no token" ? " — \($0)" : "" } ?? "")"
        }
        if let route = explanation.route {
            for skipped in route.skipped {
                text += "\nRoute:     \(skipped.route) did not fit: \(skipped.misses.joined(separator: "; or "))"
            }
            text += "\nRoute:     " + (route.matched.map { "\($0) → \(route.outcome ?? "")" } ?? "none fits (404 NR)")
        }
        guard let function = explanation.function else {
            return text + "\nResult:    \(explanation.status), \(explanation.reason)\n"
        }
        text += "\nFunction:  \(function) (\(explanation.revision ?? "?"))"
        text += "\nResult:    \(explanation.status) \(explanation.decision == "allow" ? "allowed" : "denied"): \(explanation.reason)\n"
        if explanation.policies.isEmpty { return text }
        text += "Policies that apply (\(explanation.policies.count)):\n"
        for policy in explanation.policies {
            let state = policy.matchedRule.map { "matched rule \($0)" } ?? "did not match"
            text += "  \(policy.policy)  \(policy.action)\(policy.dryRun ? " (dry run)" : "")  \(state)"
            text += policy.source.map { "  [\($0)]" } ?? ""
            text += "\n"
            for miss in policy.misses { text += "      \(miss)\n" }
        }
        for line in explanation.audited { text += "Audited by: \(line)\n" }
        for line in explanation.dryRun { text += "Dry run:   \(line)\n" }
        return text
    }
}

/// Key-fetch warnings are not the CLI's output: the explanation says what failed.
let quietLogger = Logger(label: "gatehouse.explain") { _ in SwiftLogNoOpLogHandler() }

/// The config to evaluate against — the files given, or what the running Gatehouse has applied (with
/// its generations) — and the port requests arrive on (the running ingress's, when there is one).
func explainedConfig(paths: [String], connection: AdminConnectionOptions) async throws -> (ConfigSnapshot, Int?) {
    if !paths.isEmpty { return (try loadConfig(paths, doing: "nothing was evaluated"), nil) }
    let resources = try await connection.connect().get("/api/v1/resources", as: [AdminWire.Resource].self)
    let documents = resources.map { resource in
        ResourceDocument(
            key: ResourceKey(group: ResourceKey.group(ofAPIVersion: resource.apiVersion), kind: resource.kind,
                             namespace: resource.namespace, name: resource.name),
            apiVersion: resource.apiVersion, text: resource.yaml, file: resource.file, lineOffset: resource.lineOffset)
    }
    var snapshot: ConfigSnapshot
    do {
        snapshot = try ConfigLoader.load(documents: documents)
    } catch {
        throw CommandFailure("the running config does not load here:\n\(error.description)")
    }
    let generations = Dictionary(
        resources.filter { $0.kind == "Function" }.map { ("\($0.namespace)/\($0.name)", $0.generation) }, uniquingKeysWith: { a, _ in a })
    for index in snapshot.functions.indices {
        snapshot.functions[index].generation = generations[snapshot.functions[index].key.description] ?? 1
    }
    // Again, now that the current revisions are known (the older ones stand in as the current spec).
    do { try RevisionResolver.resolve(&snapshot, revisions: [:], lenient: true) } catch {
        throw CommandFailure("the running config does not load here:\n\(error.description)")
    }
    let ingress = (connection.admin == nil ? try? StateDirectory.readEndpoints(in: connection.state.url).ingress : nil)
        .flatMap { URL(string: $0)?.port }
    return (snapshot, ingress)
}
