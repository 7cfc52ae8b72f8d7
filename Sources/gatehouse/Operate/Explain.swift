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
        abstract: "Say what Gatehouse would do with a request, and why: each stage's verdict, the function it reaches, every policy.",
        discussion: """
            Runs a hypothetical request through the gateway's own stages, in order — the listener's checks, hop
            limit, route, peer authentication, JWT, authorization, rate limit — and prints each stage's verdict and
            reason. Against the running Gatehouse the stages are its live ones (a rate limit shows the bucket a real
            request would meet; explain spends no token); with -f, stages built from the files. For every
            AuthorizationPolicy that applies it prints whether it matched, and for each rule that did not, the first
            condition that failed. `-o json` prints the schema in docs/reference/explain.md.
              gatehouse explain hello --method DELETE --path /admin -H 'x-team: ops'
              gatehouse explain ratings --via mesh --source-principal cluster.local/ns/shop/sa/web
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

    @Option(help: "The port the request arrives on (default: the listener's that --via names).")
    var port: Int?

    @Option(parsing: .upToNextOption, help: "How the request arrives: ingress (default), mesh, or gateway NAME (a Gateway's HTTPS server).")
    var via: [String] = []

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
        let arrival = via.first?.lowercased()
        if !via.isEmpty, !((arrival == "ingress" || arrival == "mesh") && via.count == 1 || arrival == "gateway" && via.count == 2) {
            throw ValidationError("--via \(via.joined(separator: " ")): write --via ingress, --via mesh or --via gateway NAME")
        }
    }

    func run() async throws {
        if let requestId { return try await explainRecorded(requestId) }
        var headers: [String: String] = [:]
        for entry in header {
            let colon = entry.firstIndex(of: ":")!
            headers[entry[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] =
                entry[entry.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var request = ExplainRequest(
            method: method, host: host ?? "", path: path, port: port, via: via.isEmpty ? nil : via.joined(separator: " "), headers: headers,
            sourceIP: sourceIP, remoteIP: remoteIP, sourcePrincipal: sourcePrincipal, requestPrincipal: requestPrincipal,
            jwt: jwt, claims: try claims.map(Self.readClaims))
        let explanation: Explanation
        if paths.isEmpty {
            let admin = try connection.connect()
            if host == nil {
                let domain = (try? StateDirectory.readEndpoints(in: connection.state.url).domain) ?? MeshSpec().domain
                request.host = "\(function!).\(namespace).\(domain)"
            }
            explanation = try await admin.post("/api/v1/explain", request.sending, as: Explanation.self)
        } else {
            let snapshot = try loadConfig(paths, doing: "nothing was evaluated")
            if host == nil { request.host = "\(function!).\(namespace).\(snapshot.mesh.domain)" }
            do {
                explanation = try await withControlPlaneClient { client in
                    try await RequestExplainer(snapshot: snapshot, keys: KeyDirectory(client: client, prefetch: false, logger: quietLogger)).explain(request)
                }
            } catch {
                throw CommandFailure("\(error)")
            }
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

    static func render(_ explanation: Explanation) -> String {
        let request = explanation.request
        var text = "Request:   \(request.method) \(request.host) \(request.path)"
        if explanation.route?.rewrittenPath != nil {
            text += " (policies see the rewritten \(explanation.normalizedPath))"
        } else if explanation.normalizedPath != request.path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) {
            text += " (normalized to \(explanation.normalizedPath))"
        }
        text += "\nVia:       \(explanation.via)"
        text += "\nCaller:    peer \(request.sourcePrincipal ?? "none (plaintext)")"
        text += request.sourceIP.map { ", address \($0)" } ?? ""
        let authentication = explanation.authentication
        switch authentication.result {
        case "verified": text += "\nJWT:       verified, \(authentication.principal ?? "?")\(authentication.policy.map { " (RequestAuthentication \($0))" } ?? "")"
        case "assumed": text += "\nJWT:       \(authentication.principal ?? "?") (claims given, taken as verified)"
        case "refused": text += "\nJWT:       refused, \(authentication.reason ?? "")"
        default: text += "\nJWT:       \(authentication.principal.map { "\($0) (given)" } ?? "none")"
        }
        text += "\nStages:\n"
        let width = explanation.stages.map(\.stage.rawValue.count).max() ?? 0
        for stage in explanation.stages {
            let name = stage.stage.rawValue.padding(toLength: width, withPad: " ", startingAt: 0)
            let verdict = stage.verdict.padding(toLength: 11, withPad: " ", startingAt: 0)
            let status = stage.status.map { "\($0) " } ?? ""
            text += "  \(name)  \(verdict) \(status)\(stage.code.map { "\($0): " } ?? "")\(stage.reason)\n"
        }
        if let route = explanation.route {
            for skipped in route.skipped {
                text += "Route:     \(skipped.route) did not fit: \(skipped.misses.joined(separator: "; or "))\n"
            }
            text += "Route:     " + (route.matched.map { "\($0) → \(route.outcome ?? "")" } ?? "none fits (404 NR)") + "\n"
        }
        if let function = explanation.function {
            text += "Function:  \(function) (\(explanation.revision ?? "?"))\n"
        }
        let verdict = explanation.stages.first { $0.stage == explanation.decidingStage }?.verdict
        let outcome = verdict == nil ? "allowed" : verdict == "respond" ? "answered by the gateway"
            : explanation.decision == "deny" ? "denied" : "refused"
        text += "Result:    \(explanation.status) \(outcome): \(explanation.reason)\n"
        if let stage = explanation.decidingStage { text += "Ended by:  \(stage)\n" }
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
