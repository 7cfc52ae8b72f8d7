import GatehouseCore

extension YAMLValue {
    /// An ISO 8601 duration (`PT0.2S`, `PT1M30S`, `P1D`), as Knative's `delivery` writes them:
    /// a quoted or plain string, not negative, at most `maximum`, and more than zero unless
    /// `allowingZero`.
    func iso8601Duration(maximum: Duration = .seconds(86_400), allowingZero: Bool = true) -> Duration? {
        let fix = "write an ISO 8601 duration such as \"PT0.2S\", \"PT30S\" or \"PT1M30S\""
        guard case .scalar(let scalar) = node, node.scalarType == .string else {
            report("expected an ISO 8601 duration string, got \(node.shortDescription)", fix: fix)
            return nil
        }
        let text = scalar.string
        do {
            let duration = try Duration.iso8601(text)
            guard duration > .zero || allowingZero else {
                report("must be longer than zero, got \"\(text)\"", fix: fix)
                return nil
            }
            guard duration <= maximum else {
                report("\"\(text)\" is longer than the most Gatehouse accepts here (\(maximum.iso8601Description))",
                       fix: "write at most \"\(maximum.iso8601Description)\"")
                return nil
            }
            return duration
        } catch {
            switch error {
            case .calendarUnit:
                report("\"\(text)\": years and months have no fixed length", fix: "write days instead, e.g. \"P30D\"")
            case .negative:
                report("\"\(text)\" must not be negative", fix: fix)
            case .malformed, .tooLarge:
                // Go-style durations are what people write elsewhere in Kubernetes: say how to convert.
                let hint = Duration(parsing: text).map { "write \"\($0.iso8601Description)\" (ISO 8601, as Knative reads it)" }
                report("\"\(text)\" is not an ISO 8601 duration", fix: hint ?? fix)
            }
            return nil
        }
    }
}
