import Foundation
import GatehouseAuthentication
import GatehouseConfig
import GatehouseCore
import GatehouseListener
import GatehouseProtection
import GatehouseRouting
import NIOHTTP1

/// The second driver of the request path: runs a described request through the listener's head
/// checks and then the pipeline's own stages (`RequestPipeline.steps`), in the same order and on
/// the same kind of record, calling each stage's `explain` — its decision without spending
/// anything — and says what each stage did. For `gatehouse explain` and `gatehouse test`.
///
/// Against files, the stages are built from them (buckets full, keys fetched as needed); against the
/// running Gatehouse (the admin API's explain endpoint) they are its live stages, so a rate limit
/// reports the bucket a real request would meet. A CUSTOM policy's provider is never asked.
public struct RequestExplainer: Sendable {
    public let snapshot: ConfigSnapshot
    let steps: [RequestPipeline.Step]

    public init(snapshot: ConfigSnapshot, keys: KeyDirectory) {
        self.snapshot = snapshot
        steps = RequestPipeline.steps(for: snapshot, keys: keys, limiters: RateLimiters())
    }

    /// The running gateway's stages, and the ports its listeners really bound (`--ingress` may
    /// differ from the Mesh's).
    init(active: ActiveConfig, ingressPort: Int, meshPort: Int) {
        var snapshot = active.snapshot
        snapshot.mesh.ingress.port = ingressPort
        snapshot.mesh.mesh.port = meshPort
        self.snapshot = snapshot
        steps = active.steps
    }

    /// A `via` that names no listener or Gateway.
    public struct UnknownArrival: Error, CustomStringConvertible {
        public var description: String
    }

    /// How the request arrives.
    enum Arrival {
        case ingress, mesh
        case gateway(String, servers: [GatewaySpec.Server])
    }

    public func explain(_ request: ExplainRequest) async throws -> Explanation {
        let (arrival, port) = try self.arrival(of: request)
        var echoed = request
        echoed.port = port
        var run = Run(request: echoed, via: Self.describe(arrival, port: port))
        guard let arrived = run.arrive(request, arrival: arrival, port: port, trustedProxies: snapshot.mesh.numTrustedProxies) else {
            return run.finish(record: nil)
        }
        var record = arrived.record
        let headers = arrived.headers
        for step in steps {
            guard !run.ended else {
                if case .run(let stage) = step { run.add(stage.name, "not_reached", "an earlier stage ended the request") }
                if case .absent(let name, _) = step { run.add(name, "not_reached", "an earlier stage ended the request") }
                continue
            }
            switch step {
            case .absent(let name, let because):
                run.add(name, "skip", because)
            case .run(let stage):
                let explained = stage.explain(&record, headers: headers)
                var verdict = explained.verdict
                while case .suspend(let work) = verdict {
                    let resume = await work()
                    verdict = resume(&record)
                }
                var note = explained.note
                var details = explained.details
                if let late = record.extensions[StageNotes.self] {
                    note = late.note ?? note
                    details.merge(late.details) { _, late in late }
                    record.extensions[StageNotes.self] = nil
                }
                run.conclude(stage.name, verdict, note: note, details: details)
            }
        }
        var explanation = run.finish(record: record)
        redactTokens(in: &explanation, path: record.path)
        return explanation
    }

    /// What `explain` echoes of the request carries no token: the query parameters and headers
    /// RequestAuthentication reads tokens from are shown as `(given)`, as `Authorization` always is.
    private func redactTokens(in explanation: inout Explanation, path: RequestPath) {
        if let redacted = path.redacted {
            explanation.request.path = redacted
            if let index = explanation.stages.firstIndex(where: { $0.stage == .request }) {
                explanation.stages[index].details?["path"] = .string(redacted)
            }
        }
        let tokenHeaders = Set(snapshot.requestAuthentications.flatMap(\.jwtRules).flatMap(\.fromHeaders).map { $0.name.lowercased() })
        guard !tokenHeaders.isEmpty, let headers = explanation.request.headers else { return }
        explanation.request.headers = Dictionary(uniqueKeysWithValues: headers.map { ($0.key, tokenHeaders.contains($0.key.lowercased()) ? "(given)" : $0.value) })
    }

    private func arrival(of request: ExplainRequest) throws -> (Arrival, Int) {
        let mesh = snapshot.mesh
        let words = (request.via ?? "").split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        switch words.first?.lowercased() {
        case nil:
            if let port = request.port {
                if port == mesh.mesh.port { return (.mesh, port) }
                let servers = snapshot.gateways.flatMap(\.servers).filter { $0.port == port && $0.tls != nil }
                if !servers.isEmpty, port != mesh.ingress.port { return (.gateway("on port \(port)", servers: servers), port) }
                return (.ingress, port)
            }
            return request.sourcePrincipal != nil ? (.mesh, mesh.mesh.port) : (.ingress, mesh.ingress.port)
        case "ingress" where words.count == 1: return (.ingress, request.port ?? mesh.ingress.port)
        case "mesh" where words.count == 1: return (.mesh, request.port ?? mesh.mesh.port)
        case "gateway" where words.count == 2:
            let name = words[1]
            guard let gateway = snapshot.gateways.first(where: { $0.reference == name || $0.name == name }) else {
                let known = snapshot.gateways.map(\.reference)
                throw UnknownArrival(description: "via: no Gateway named \(name)" + (known.isEmpty ? " (the config has none)" : " (known: \(known.joined(separator: ", ")))"))
            }
            let tls = gateway.servers.filter { $0.tls != nil }
            guard let first = tls.first(where: { request.port == nil || $0.port == request.port }) else {
                throw UnknownArrival(description: "via: Gateway \(gateway.reference) has no HTTPS server\(request.port.map { " on port \($0)" } ?? "")")
            }
            // The listener on that port serves every Gateway's servers on it.
            let servers = snapshot.gateways.flatMap(\.servers).filter { $0.port == first.port && $0.tls != nil }
            return (.gateway(gateway.reference, servers: servers), first.port)
        default:
            throw UnknownArrival(description: "via: \"\(request.via ?? "")\" is not `ingress`, `mesh` or `gateway NAME`")
        }
    }

    private static func describe(_ arrival: Arrival, port: Int) -> String {
        switch arrival {
        case .ingress: "ingress, port \(port)"
        case .mesh: "mesh, port \(port)"
        case .gateway(let name, _): "gateway \(name), port \(port)"
        }
    }
}

/// One explanation being put together, stage by stage.
private struct Run {
    let request: ExplainRequest
    let via: String
    var stages: [Explanation.Stage] = []
    var ended: Bool { decidingStage != nil }
    var decidingStage: StageName?
    var status = 200
    var reason = ""

    init(request: ExplainRequest, via: String) {
        self.request = request
        self.via = via
    }

    mutating func add(_ stage: StageName, _ verdict: String, _ reason: String, status: Int? = nil, code: String? = nil, details: [String: DetailValue] = [:]) {
        stages.append(.init(stage: stage, verdict: verdict, reason: reason, status: status, code: code, details: details.isEmpty ? nil : details))
    }

    mutating func end(_ stage: StageName, status: Int, reason: String) {
        decidingStage = stage
        self.status = status
        self.reason = reason
    }

    /// The listener's part: the head checks every request passes, the Gateway server's hosts,
    /// and the record the stages start from. Nil when the request ends here.
    mutating func arrive(_ request: ExplainRequest, arrival: RequestExplainer.Arrival, port: Int, trustedProxies: Int) -> (record: RequestRecord, headers: HTTPHeaders)? {
        var fields = HTTPHeaders()
        fields.add(name: "host", value: request.host)
        for (name, value) in (request.headers ?? [:]).sorted(by: { $0.key < $1.key }) where name.lowercased() != "host" {
            fields.add(name: name, value: value)
        }
        if let jwt = request.jwt { fields.replaceOrAdd(name: "authorization", value: "Bearer " + jwt) }
        var notes: [String] = []
        if let remote = request.remoteIP, !fields.contains(name: "x-forwarded-for") {
            fields.add(name: "x-forwarded-for", value: remote)
            if trustedProxies == 0 { notes.append("remoteIP is not used: the Mesh trusts no proxies (numTrustedProxies: 0), so remote.ip is the caller's address") }
        }
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.method.uppercased()), uri: request.path, headers: fields)
        let checked: HTTPRequestHead
        switch RequestTarget.originForm(head).map(RequestHeadCheck.check) {
        case nil:
            add(.request, "refuse", "the target is neither origin-form (/path) nor absolute-form (http://host/path)", status: 400, code: "bad_request")
            end(.request, status: 400, reason: "the request target is not valid")
            return nil
        case .failure(let error)?:
            let status = Int(ErrorResponses.mapping(error.code).0.code)
            add(.request, "refuse", error.detail, status: status, code: error.code.name)
            end(.request, status: status, reason: error.detail)
            return nil
        case .success(let head)?:
            checked = head
        }
        var record = RequestRecord(
            requestId: "explain", startWallNanos: 0, start: .now, method: checked.method.rawValue, path: checked.uri,
            httpProtocol: "HTTP/1.1", authority: checked.headers.first(name: "host") ?? request.host)
        record.destinationPort = port
        record.downstreamAddress = request.sourceIP
        record.peer = request.sourcePrincipal.map { PeerIdentity(principal: $0, uri: "spiffe://" + $0, certificateHash: "") }
        switch arrival {
        case .ingress:
            if request.sourcePrincipal != nil { notes.append("the ingress is plaintext: a sourcePrincipal is taken as given, though no real ingress caller has one") }
        case .mesh:
            record.viaMeshListener = true
            record.overTLS = true
            if request.sourcePrincipal == nil { notes.append("no sourcePrincipal: the mesh listener refuses callers without a certificate before any stage") }
        case .gateway(let name, let servers):
            record.overTLS = true
            record.sni = record.host
            guard servers.contains(where: { $0.serves(record.host) }) else {
                add(.request, "refuse", "host \(record.host) is not among the hosts of Gateway \(name)'s servers on port \(port)", status: 404, code: "route_not_found")
                end(.request, status: 404, reason: "host \(record.host) is not among the Gateway server's hosts")
                return nil
            }
        }
        if let claims = request.claims {
            record.jwt = VerifiedJWT(claims: claims)
        } else if request.jwt == nil, let principal = request.requestPrincipal, let slash = principal.lastIndex(of: "/") {
            record.jwt = VerifiedJWT(issuer: String(principal[..<slash]), subject: String(principal[principal.index(after: slash)...]))
        }
        let path = record.path.value == checked.uri ? "" : ", path normalized to \(record.path.value)"
        add(.request, "pass", "arrives via \(via)" + (record.peer == nil ? ", plaintext" : ", mutual TLS") + path
            + (notes.isEmpty ? "" : "; " + notes.joined(separator: "; ")),
            details: ["host": .string(record.host), "path": .string(record.path.value), "port": .int(port)])
        return (record, checked.headers)
    }

    mutating func conclude(_ stage: StageName, _ verdict: StageVerdict, note: String?, details: [String: DetailValue]) {
        switch verdict {
        case .proceed, .suspend:
            add(stage, "pass", note ?? "passed", details: details)
        case .reject(let error):
            var status = Int(ErrorResponses.mapping(error.code).0.code)
            if let passed = error.response { status = passed.status }
            add(stage, "refuse", note ?? error.detail, status: status, code: error.code.name, details: details)
            end(stage, status: status, reason: note ?? error.detail)
        case .respond(let reply):
            add(stage, "respond", note ?? reply.details, status: reply.status, details: details)
            end(stage, status: reply.status, reason: note ?? reply.details)
        }
    }

    func finish(record: RequestRecord?) -> Explanation {
        func decode<T: Decodable>(_ value: DetailValue?, as type: T.Type) -> T? {
            guard let value, let data = try? JSONEncoder().encode(value) else { return nil }
            return try? JSONDecoder().decode(T.self, from: data)
        }
        let details = { (name: StageName) in stages.first { $0.stage == name }?.details ?? [:] }
        let jwt = stages.first { $0.stage == .jwt }
        var authentication = Explanation.Authentication(result: "none", reason: jwt?.reason)
        if case .string(let result)? = jwt?.details?["result"] { authentication.result = result }
        if case .string(let principal)? = jwt?.details?["principal"] { authentication.principal = principal }
        if case .string(let policy)? = jwt?.details?["policy"] { authentication.policy = policy }
        if authentication.principal == nil, record?.jwt == nil { authentication.principal = request.requestPrincipal }
        let decision = record?.decision
        var explanation = Explanation(
            request: request, via: via, stages: stages, decidingStage: decidingStage, status: status, reason: reason,
            function: record?.destination?.key.description, revision: record?.destination?.revision,
            normalizedPath: record.map { String($0.path.path) } ?? request.path,
            route: decode(details(.route)["routes"], as: RouteTrace.self), authentication: authentication,
            decision: decision?.outcome.rawValue, decidingPolicy: decision?.policy, rule: decision?.rule,
            policies: decode(details(.authorization)["policies"], as: [Explanation.Policy].self) ?? [],
            audited: decision?.audited ?? [], dryRun: decision?.dryRun ?? [], custom: nil)
        if case .string(let custom)? = details(.authorization)["custom"] { explanation.custom = custom }
        if decidingStage == nil {
            if explanation.decision == nil { explanation.decision = "allow" }
            let authorization = stages.first { $0.stage == .authorization && $0.verdict == "pass" }
            explanation.reason = authorization.map(\.reason).flatMap { $0.isEmpty ? nil : $0 }
                ?? "no stage refused it: \(explanation.function ?? "the function") gets it"
        }
        return explanation
    }
}
