/// A trace as an indented tree for a terminal: each request through Gatehouse with its stages'
/// and attempts' spans under it, and a request a function made through the mesh under the attempt
/// that called that function — so a request that failed two hops deep shows where and why.
public enum TraceTree {
    public static func render(_ report: TraceReport) -> String {
        let spans = report.spans.sorted { $0.startNanos < $1.startNanos }
        guard let first = spans.first else { return "trace \(report.traceId): no spans\n" }
        let ids = Set(spans.map(\.spanId))
        var children: [String: [FinishedSpan]] = [:]
        var roots: [FinishedSpan] = []
        for span in spans {
            if let parent = span.parentSpanId, ids.contains(parent) {
                children[parent, default: []].append(span)
            } else {
                roots.append(span)
            }
        }
        let end = spans.map(\.endNanos).max() ?? first.endNanos
        var out = "trace \(report.traceId) · \(report.requests) request\(report.requests == 1 ? "" : "s") through Gatehouse · \(milliseconds(end - first.startNanos))\n"
        func walk(_ span: FinishedSpan, prefix: String, isLast: Bool, isRoot: Bool) {
            let branch = isRoot ? "" : (isLast ? "└─ " : "├─ ")
            out += prefix + branch + line(span, origin: first.startNanos) + "\n"
            let below = children[span.spanId] ?? []
            let childPrefix = isRoot ? prefix : prefix + (isLast ? "   " : "│  ")
            for (index, child) in below.enumerated() {
                walk(child, prefix: childPrefix, isLast: index == below.count - 1, isRoot: false)
            }
        }
        for root in roots { walk(root, prefix: "", isLast: true, isRoot: true) }
        return out
    }

    static func line(_ span: FinishedSpan, origin: Int64) -> String {
        var parts = [span.name]
        if let status = span.attribute("http.response.status_code") { parts.append("→ \(status.text)") }
        parts.append(milliseconds(span.durationNanos))
        parts.append("at +\(milliseconds(span.startNanos - origin))")
        if span.kind == .server {
            var facts = [span.attribute("gatehouse.listener")?.text ?? "ingress"]
            if let path = span.attribute("url.path")?.text { facts.insert(path, at: 0) }
            if let function = span.attribute("istio.canonical_service")?.text, let namespace = span.attribute("istio.namespace")?.text {
                facts.append("function \(namespace)/\(function)")
            }
            if let id = span.attribute("guid:x-request-id")?.text { facts.append("request \(id)") }
            if span.attribute("gatehouse.cold_start") == .bool(true) { facts.append("cold start") }
            if let flags = span.attribute("response_flags")?.text, flags != "-" { facts.append("flags \(flags)") }
            parts.append("[\(facts.joined(separator: ", "))]")
            if let decision = span.attribute("gatehouse.decision")?.text {
                if let policy = span.attribute("gatehouse.policy")?.text {
                    parts.append("\(decision) by \(policy)")
                } else {
                    parts.append(decision)
                }
            }
            if let reason = span.attribute("gatehouse.reason")?.text { parts.append("— \(reason)") }
        } else if let detail = span.attribute("gatehouse.detail")?.text {
            parts.append(span.failed ? "— failed: \(detail)" : detail)
        } else if span.failed {
            parts.append("— failed")
        }
        return parts.joined(separator: "  ")
    }

    static func milliseconds(_ nanos: Int64) -> String {
        let ms = Double(nanos) / 1e6
        return ms < 10 ? "\((ms * 100).rounded() / 100) ms" : "\((ms * 10).rounded() / 10) ms"
    }
}
