import Foundation
import GatehouseCore

/// Decodes an Istio `VirtualService` with Istio's validation: hosts given, each route has exactly
/// one of `route`, `redirect`, `directResponse`; weights of several destinations add up to 100;
/// string matches have one of exact, prefix, regex (a regex must compile). Route fields Gatehouse
/// does not enforce yet are read and named in `unenforced`.
enum VirtualServiceDecoder {
    static let unenforcedRouteFields = ["delegate"]

    static func decode(_ envelope: DocumentEnvelope) -> (service: VirtualServiceSpec, unenforced: [String]) {
        var service = VirtualServiceSpec(namespace: envelope.namespace, name: envelope.name, source: envelope.location)
        var unenforced: [String] = []
        guard let spec = envelope.root.required("spec", fix: "add `spec:` with `hosts:` and `http:` routes")?.mapping() else {
            return (service, unenforced)
        }
        defer { spec.reportUnknownKeys() }
        if let value = spec.required("hosts", fix: "add `hosts: [hello]` (a function, or the host callers use)"), let hosts = value.stringList() {
            if hosts.isEmpty { value.report("must name at least one host", fix: "write e.g. `hosts: [hello]`") }
            service.hosts = hosts
        }
        service.gateways = spec.field("gateways")?.stringList() ?? []
        spec.ignore(["exportTo"])
        for name in ["tcp", "tls"] where spec.field(name) != nil { unenforced.append(name) }
        for value in spec.field("http")?.sequence() ?? [] {
            guard let route = value.mapping() else { continue }
            service.http.append(decodeRoute(route, unenforced: &unenforced))
        }
        return (service, unenforced)
    }

    private static func decodeRoute(_ route: YAMLMappingReader, unenforced: inout [String]) -> VirtualServiceSpec.HTTPRoute {
        defer { route.reportUnknownKeys() }
        var result = VirtualServiceSpec.HTTPRoute()
        result.source = route.location
        result.name = route.field("name")?.string()
        for name in unenforcedRouteFields where route.field(name) != nil && !unenforced.contains("http.\(name)") {
            unenforced.append("http.\(name)")
        }
        for value in route.field("match")?.sequence() ?? [] {
            if let match = value.mapping() { result.match.append(decodeMatch(match, unenforced: &unenforced)) }
        }
        if let destinations = route.field("route")?.sequence() {
            for value in destinations {
                guard let entry = value.mapping() else { continue }
                defer { entry.reportUnknownKeys() }
                guard let destination = entry.required("destination", fix: "add `destination: {host: hello}`")?.mapping(),
                      var target = decodeDestination(destination, fix: "add `host:` naming the function") else { continue }
                if let weight = entry.field("weight") {
                    if let number = weight.int() {
                        if (0...100).contains(number) { target.weight = number } else { weight.report("must be between 0 and 100", fix: "write a percentage") }
                    }
                } else if destinations.count > 1 {
                    target.weight = 0
                }
                entry.ignore(["headers"])  // per-destination header operations: not enforced yet
                result.destinations.append(target)
            }
            if result.destinations.count > 1 {
                let total = result.destinations.reduce(0) { $0 + $1.weight }
                if total != 100 {
                    route.diagnostics.report(
                        at: route.location, field: route.fieldPath("route"), "the destinations' weights add up to \(total), not 100",
                        fix: "give every destination a `weight:` so that they add up to 100")
                }
            }
        }
        if let redirect = route.field("redirect")?.mapping() { result.redirect = decodeRedirect(redirect) }
        if let direct = route.field("directResponse")?.mapping() { result.directResponse = decodeDirectResponse(direct) }
        let outcomes = [result.destinations.isEmpty ? nil : "route", result.redirect == nil ? nil : "redirect", result.directResponse == nil ? nil : "directResponse"].compactMap { $0 }
        if outcomes.count != 1 {
            route.diagnostics.report(
                at: route.location, field: route.fieldPath(outcomes.first ?? "route"),
                outcomes.isEmpty ? "a route needs a destination, a redirect or a direct response" : "\(outcomes.joined(separator: " and ")) cannot be combined",
                fix: "keep exactly one of `route`, `redirect`, `directResponse`")
        }
        if let rewrite = route.field("rewrite")?.mapping() { result.rewrite = decodeRewrite(rewrite) }
        if let timeout = route.field("timeout")?.positiveDuration() { result.timeout = timeout }
        if let retries = route.field("retries")?.mapping() { result.retries = decodeRetries(retries) }
        if let fault = route.field("fault")?.mapping() { result.fault = decodeFault(fault) }
        if let cors = route.field("corsPolicy")?.mapping() { result.cors = decodeCors(cors) }
        result.mirrors = decodeMirrors(route)
        if let headers = route.field("headers")?.mapping() {
            defer { headers.reportUnknownKeys() }
            if let request = headers.field("request")?.mapping() { result.requestHeaders = decodeHeaderOperations(request) }
            if let response = headers.field("response")?.mapping() { result.responseHeaders = decodeHeaderOperations(response) }
        }
        return result
    }

    private static func decodeMatch(_ mapping: YAMLMappingReader, unenforced: inout [String]) -> VirtualServiceSpec.Match {
        defer { mapping.reportUnknownKeys() }
        var match = VirtualServiceSpec.Match()
        match.name = mapping.field("name")?.string()
        match.uri = mapping.field("uri").flatMap(stringMatch)
        match.method = mapping.field("method").flatMap(stringMatch)
        match.authority = mapping.field("authority").flatMap(stringMatch)
        match.headers = matchMap(mapping.field("headers"), lowercasingKeys: true)
        match.withoutHeaders = matchMap(mapping.field("withoutHeaders"), lowercasingKeys: true)
        match.queryParams = matchMap(mapping.field("queryParams"), lowercasingKeys: false)
        match.ignoreUriCase = mapping.field("ignoreUriCase")?.bool() ?? false
        mapping.ignore(["statPrefix"])
        // Conditions Gatehouse cannot check yet would, if ignored, widen the block to every request:
        // a block with one of them never matches instead, and the notice says so.
        match.port = mapping.field("port")?.int()
        match.scheme = mapping.field("scheme").flatMap(stringMatch)
        match.sourceNamespace = mapping.field("sourceNamespace")?.string()
        match.gateways = mapping.field("gateways")?.stringList() ?? []
        for name in ["sourceLabels"] where mapping.field(name) != nil {
            match.unsupported = true
            let note = "http.match.\(name) (such match blocks never match)"
            if !unenforced.contains(note) { unenforced.append(note) }
        }
        return match
    }

    private static func matchMap(_ value: YAMLValue?, lowercasingKeys: Bool) -> [String: VirtualServiceSpec.StringMatch] {
        guard let value, case .mapping(let mapping) = value.node else { return [:] }
        var result: [String: VirtualServiceSpec.StringMatch] = [:]
        for (key, node) in mapping {
            guard let name = key.scalar?.string else { continue }
            let entry = YAMLValue(node: node, path: "\(value.path).\(name)", diagnostics: value.diagnostics)
            if let match = stringMatch(entry) { result[lowercasingKeys ? name.lowercased() : name] = match }
        }
        return result
    }

    private static func stringMatch(_ value: YAMLValue) -> VirtualServiceSpec.StringMatch? {
        guard let mapping = value.mapping() else { return nil }
        defer { mapping.reportUnknownKeys() }
        let found: [VirtualServiceSpec.StringMatch] = [
            mapping.field("exact")?.text().map { .exact($0) },
            mapping.field("prefix")?.text().map { .prefix($0) },
            mapping.field("regex")?.text().map { .regex($0) },
        ].compactMap { $0 }
        guard found.count == 1 else {
            value.report("a string match has exactly one of exact, prefix, regex", fix: "write e.g. `{prefix: /api/}`")
            return nil
        }
        if case .regex(let pattern) = found[0], (try? NSRegularExpression(pattern: pattern)) == nil {
            value.report("regex \"\(pattern)\" does not compile", fix: "write an RE2 regular expression, e.g. \"/v[0-9]+/.*\"")
            return nil
        }
        return found[0]
    }

    /// `mirrors` (Istio ≥ 1.22), or the older `mirror` with `mirrorPercentage` / `mirrorPercent`;
    /// not both, as Istio says.
    private static func decodeMirrors(_ route: YAMLMappingReader) -> [VirtualServiceSpec.Mirror] {
        func destination(_ mapping: YAMLMappingReader) -> VirtualServiceSpec.Destination? {
            decodeDestination(mapping, fix: "add `host:` naming the function that gets the copies")
        }
        var mirrors: [VirtualServiceSpec.Mirror] = []
        // The single mirror's share: `mirrorPercentage`, else the older `mirrorPercent`, else all.
        let legacyPercent = route.field("mirrorPercent").flatMap { $0.int() }.map { Double(min(100, max(0, $0))) }
        let singlePercent = percent(route, key: "mirrorPercentage") ?? legacyPercent ?? 100
        let single = route.field("mirror")
        if let single, let target = single.mapping().flatMap(destination) {
            mirrors.append(VirtualServiceSpec.Mirror(destination: target, percent: singlePercent))
        } else if single == nil, let stray = route.field("mirrorPercentage") ?? route.field("mirrorPercent") {
            stray.report("applies to `mirror`, which this route does not have", fix: "give each `mirrors` entry its own `percentage`")
        }
        if let list = route.field("mirrors") {
            if single != nil {
                list.report("`mirror` and `mirrors` cannot both be set", fix: "move the `mirror` into `mirrors`")
            }
            for value in list.sequence() ?? [] {
                guard let entry = value.mapping() else { continue }
                defer { entry.reportUnknownKeys() }
                guard let target = entry.required("destination", fix: "add `destination: {host: NAME}`")?.mapping().flatMap(destination) else { continue }
                mirrors.append(.init(destination: target, percent: percent(entry, key: "percentage") ?? 100))
            }
        }
        return mirrors
    }

    /// Istio's `Destination`: the host naming a function and an optional subset (`port` is ignored).
    private static func decodeDestination(_ mapping: YAMLMappingReader, fix: String) -> VirtualServiceSpec.Destination? {
        defer { mapping.reportUnknownKeys() }
        mapping.ignore(["port"])
        guard let host = mapping.required("host", fix: fix)?.string() else { return nil }
        return .init(host: host, subset: mapping.field("subset")?.string())
    }

    /// Istio's `Percent` under `key` (`{value: 12.5}`): nil when absent, or reported when not 0–100.
    private static func percent(_ mapping: YAMLMappingReader, key: String) -> Double? {
        guard let percent = mapping.field(key)?.mapping() else { return nil }
        defer { percent.reportUnknownKeys() }
        guard let field = percent.field("value"), let text = field.text() else { return nil }
        guard let value = Double(text), (0...100).contains(value) else {
            field.report("must be a percentage from 0 to 100", fix: "write e.g. `\(key): {value: 10}`")
            return nil
        }
        return value
    }

    private static func decodeRedirect(_ mapping: YAMLMappingReader) -> VirtualServiceSpec.Redirect {
        defer { mapping.reportUnknownKeys() }
        var redirect = VirtualServiceSpec.Redirect()
        redirect.uri = mapping.field("uri")?.string()
        redirect.authority = mapping.field("authority")?.string()
        redirect.scheme = mapping.field("scheme")?.string()
        redirect.port = mapping.field("port")?.int()
        if let field = mapping.field("redirectCode"), let code = field.int() {
            if [301, 302, 303, 307, 308].contains(code) { redirect.code = code } else { field.report("\(code) is not a redirect status", fix: "write 301, 302, 303, 307 or 308") }
        }
        mapping.ignore(["derivePort"])
        return redirect
    }

    private static func decodeDirectResponse(_ mapping: YAMLMappingReader) -> VirtualServiceSpec.DirectResponse? {
        defer { mapping.reportUnknownKeys() }
        guard let field = mapping.required("status", fix: "add `status: 200`"), let status = field.int() else { return nil }
        guard (200...599).contains(status) else {
            field.report("\(status) is not an HTTP status from 200 to 599", fix: "write e.g. `status: 503`")
            return nil
        }
        var response = VirtualServiceSpec.DirectResponse(status: status)
        if let body = mapping.field("body")?.mapping() {
            defer { body.reportUnknownKeys() }
            if let text = body.field("string")?.text() {
                response.body = text
            } else if let field = body.field("bytes"), let encoded = field.string() {
                if let data = Data(base64Encoded: encoded) { response.body = String(decoding: data, as: UTF8.self) } else { field.report("is not base64", fix: "write the body base64-encoded, or use `string:`") }
            }
        }
        return response
    }

    private static func decodeRewrite(_ mapping: YAMLMappingReader) -> VirtualServiceSpec.Rewrite {
        defer { mapping.reportUnknownKeys() }
        var rewrite = VirtualServiceSpec.Rewrite()
        rewrite.uri = mapping.field("uri")?.string()
        rewrite.authority = mapping.field("authority")?.string()
        if let regex = mapping.field("uriRegexRewrite")?.mapping() {
            defer { regex.reportUnknownKeys() }
            if let pattern = regex.required("match", fix: "add `match:` (RE2)")?.text(),
               let replacement = regex.required("rewrite", fix: "add `rewrite:` (\\1 for the first group)")?.text() {
                if (try? NSRegularExpression(pattern: pattern)) == nil {
                    regex.field("match")?.report("regex \"\(pattern)\" does not compile", fix: "write an RE2 regular expression")
                } else {
                    rewrite.uriRegex = (pattern, replacement)
                }
            }
        }
        if rewrite.uri != nil, rewrite.uriRegex != nil {
            mapping.diagnostics.report(
                at: mapping.location, field: mapping.fieldPath("uri"), "`uri` and `uriRegexRewrite` cannot both be set", fix: "keep one")
        }
        return rewrite
    }

    private static func decodeRetries(_ mapping: YAMLMappingReader) -> RetryPolicy {
        defer { mapping.reportUnknownKeys() }
        mapping.ignore(["retryRemoteLocalities", "retryIgnorePreviousHosts", "backoff"])
        var policy = RetryPolicy(attempts: 0)
        if let field = mapping.field("attempts"), let attempts = field.int() {
            if (0...10).contains(attempts) { policy.attempts = attempts } else { field.report("must be between 0 and 10", fix: "write e.g. `attempts: 3`") }
        }
        policy.perTryTimeout = mapping.field("perTryTimeout")?.positiveDuration()
        if let field = mapping.field("retryOn"), let text = field.string() {
            var conditions: Set<RetryPolicy.Condition> = []
            var codes: Set<Int> = []
            for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
                if let code = Int(item), (100...599).contains(code) {
                    codes.insert(code)
                } else if let condition = RetryPolicy.Condition(rawValue: item) {
                    conditions.insert(condition)
                } else {
                    let known = RetryPolicy.Condition.allCases.map(\.rawValue)
                    field.report(
                        "unknown retry condition \"\(item)\"; known: \(known.joined(separator: ", ")), or a status code",
                        fix: Spelling.suggestion(for: item, among: known).map { "write `\($0)`" } ?? "write e.g. `retryOn: 5xx,reset`")
                }
            }
            if !codes.isEmpty { conditions.insert(.retriableStatusCodes) }
            policy.conditions = conditions
            policy.statusCodes = codes
        }
        return policy
    }

    private static func decodeFault(_ mapping: YAMLMappingReader) -> VirtualServiceSpec.Fault {
        defer { mapping.reportUnknownKeys() }
        var fault = VirtualServiceSpec.Fault()
        func percentage(_ entry: YAMLMappingReader) -> Double {
            percent(entry, key: "percentage") ?? entry.field("percent")?.int().map(Double.init) ?? 0
        }
        if let delay = mapping.field("delay")?.mapping() {
            defer { delay.reportUnknownKeys() }
            let duration = delay.required("fixedDelay", fix: "add `fixedDelay: 5s`")?.positiveDuration()
            if let duration { fault.delay = (percentage(delay), duration) }
        }
        if let abort = mapping.field("abort")?.mapping() {
            defer { abort.reportUnknownKeys() }
            if let field = abort.required("httpStatus", fix: "add `httpStatus: 503`"), let status = field.int() {
                if (200...599).contains(status) { fault.abort = (percentage(abort), status) } else { field.report("\(status) is not an HTTP status", fix: "write e.g. `httpStatus: 503`") }
            }
        }
        return fault
    }

    private static func decodeCors(_ mapping: YAMLMappingReader) -> VirtualServiceSpec.CorsPolicy {
        defer { mapping.reportUnknownKeys() }
        var cors = VirtualServiceSpec.CorsPolicy()
        cors.allowOrigins = (mapping.field("allowOrigins")?.sequence() ?? []).compactMap(stringMatch)
        // The deprecated `allowOrigin` list is exact origins.
        cors.allowOrigins += (mapping.field("allowOrigin")?.stringList() ?? []).map { .exact($0) }
        cors.allowMethods = mapping.field("allowMethods")?.stringList() ?? []
        cors.allowHeaders = mapping.field("allowHeaders")?.stringList() ?? []
        cors.exposeHeaders = mapping.field("exposeHeaders")?.stringList() ?? []
        cors.maxAge = mapping.field("maxAge")?.positiveDuration()
        cors.allowCredentials = mapping.field("allowCredentials")?.bool() ?? false
        mapping.ignore(["unmatchedPreflights"])
        return cors
    }

    private static func decodeHeaderOperations(_ mapping: YAMLMappingReader) -> VirtualServiceSpec.HeaderOperations {
        defer { mapping.reportUnknownKeys() }
        var operations = VirtualServiceSpec.HeaderOperations()
        operations.set = mapping.field("set")?.stringMap() ?? [:]
        operations.add = mapping.field("add")?.stringMap() ?? [:]
        operations.remove = (mapping.field("remove")?.stringList() ?? []).map { $0.lowercased() }
        // Framing and hop-by-hop headers are Gatehouse's to write (`HeaderEdits.reservedNames`).
        for operation in ["set", "add", "remove"] {
            guard let field = mapping.field(operation) else { continue }
            let names = operation == "remove" ? operations.remove : Array((operation == "set" ? operations.set : operations.add).keys)
            let reserved = names.filter { HeaderEdits.reservedNames.contains($0.lowercased()) }.sorted()
            if !reserved.isEmpty {
                field.report(
                    "\(reserved.map { "`\($0)`" }.joined(separator: ", ")) \(reserved.count == 1 ? "is a framing or hop-by-hop header" : "are framing or hop-by-hop headers") that Gatehouse writes itself",
                    fix: "remove \(reserved.count == 1 ? "it" : "them") from `\(operation)`")
            }
        }
        return operations
    }
}
