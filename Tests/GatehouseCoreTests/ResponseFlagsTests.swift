import GatehouseCore
import Testing

/// Envoy's response flags as they appear in access logs and the `response_flags` label.
@Suite("Response flags")
struct ResponseFlagsTests {
    @Test("No flags print as -")
    func empty() {
        #expect(ResponseFlags().description == "-")
    }

    @Test("Each flag prints as its Envoy code", arguments: [
        (ResponseFlags.noRoute, "NR"), (.upstreamOverflow, "UO"), (.upstreamConnectionFailure, "UF"),
        (.upstreamConnectionTermination, "UC"), (.upstreamRequestTimeout, "UT"), (.noHealthyUpstream, "UH"),
        (.downstreamConnectionTermination, "DC"),
    ])
    func single(flag: ResponseFlags, code: String) {
        #expect(flag.description == code)
    }

    @Test("Several flags are joined by commas in a fixed order, whatever order they were set in")
    func several() {
        #expect(([.downstreamConnectionTermination, .upstreamRequestTimeout] as ResponseFlags).description == "UT,DC")
        let all: ResponseFlags = [
            .downstreamConnectionTermination, .noHealthyUpstream, .upstreamRequestTimeout,
            .upstreamConnectionTermination, .upstreamConnectionFailure, .upstreamOverflow, .noRoute,
        ]
        #expect(all.description == "NR,UO,UF,UC,UT,UH,DC")
    }
}
