import Foundation

extension CloudEvent {
    /// Knative's limit for `knativeerrordata`: the base64 text is cut to this many characters.
    public static let deadLetterDataLimit = 1024

    /// The event as a dead-letter sink receives it: unchanged, plus Knative's extensions naming
    /// the failure — `knativeerrordest` (where delivery failed), `knativeerrorcode` (the last
    /// status; 500 when there was no answer, as Knative reports it) and `knativeerrordata` (the
    /// last response body, or the error text when there was no answer, base64-encoded and cut to
    /// 1024 characters, as Knative's dispatcher does).
    public func deadLettered(destination: String, status: Int?, responseBody: some Collection<UInt8>) -> CloudEvent {
        var event = self
        event.extensions["knativeerrordest"] = destination
        event.extensions["knativeerrorcode"] = String(status ?? 500)
        // 768 bytes are exactly 1024 base64 characters: encode no more than is kept.
        let kept = Data(responseBody.prefix(Self.deadLetterDataLimit / 4 * 3))
        event.extensions["knativeerrordata"] = String(kept.base64EncodedString().prefix(Self.deadLetterDataLimit))
        return event
    }
}
