import GatehouseCore
import NIOCore

/// The attempt and retry policy of one forwarded request, apart from the HTTP/1 transport that
/// carries each attempt (`ForwardedExchange`): how many retries and connect tries remain, the body
/// kept to send again, and what a failed attempt leads to. A plain value, asked by the transport
/// and tested without sockets.
struct AttemptBudget {
    /// How an attempt failed.
    enum Failure: Equatable {
        /// The function answered with this status.
        case status(Int)
        /// The connection closed before a response began.
        case reset
        /// No response within the route's `perTryTimeout`.
        case perTryTimeout
    }

    enum Decision: Equatable {
        /// Try again, on any instance, with the kept body.
        case retry
        /// Stop: pass the response on (a status) or fail the request; `retryLimitReached` sets
        /// Envoy's `URX` flag (the policy allowed retries and all were spent).
        case stop(retryLimitReached: Bool)
    }

    /// Connecting is tried twice (on a replacement instance the second time), as Istio's default
    /// retry policy retries `connect-failure`: nothing has been sent, so a retry is always safe.
    static let maxConnectAttempts = 2

    /// The most request body kept to send again on a retry; a larger request is not retried (as
    /// Envoy's retries are bounded by its buffer limit).
    static let maxReplayBytes = 64 * 1024

    let policy: RetryPolicy?
    private(set) var retriesLeft: Int
    /// The request body kept for a retry (nil once it outgrew `maxReplayBytes`, or without retries).
    private(set) var replay: [ByteBuffer]?
    private var replayBytes = 0
    private var connectAttempts = 0

    /// `keepBody`: keep the body (up to `maxReplayBytes`) even without retries — for a request
    /// that may go to another node, which can refuse it before running anything.
    init(policy: RetryPolicy?, keepBody: Bool = false) {
        self.policy = policy
        retriesLeft = policy?.attempts ?? 0
        replay = retriesLeft > 0 || keepBody ? [] : nil
    }

    var perTryTimeout: Duration? { policy?.perTryTimeout }

    /// A part of the request body, kept while a retry could need it.
    mutating func keep(_ buffer: ByteBuffer) {
        guard replay != nil else { return }
        replayBytes += buffer.readableBytes
        if replayBytes > Self.maxReplayBytes { replay = nil } else { replay?.append(buffer) }
    }

    /// A connection could not be made: whether to try another instance.
    mutating func connectFailed() -> Bool {
        connectAttempts += 1
        let allowed = policy?.retriesConnectFailure == true ? max(Self.maxConnectAttempts, 1 + (policy?.attempts ?? 0)) : Self.maxConnectAttempts
        return connectAttempts < allowed
    }

    /// What `failure` leads to. `retryable`: the whole request has arrived and nothing of the
    /// response went to the caller (only then can an attempt be repeated).
    mutating func after(_ failure: Failure, retryable: Bool) -> Decision {
        let covered = switch failure {
        case .status(let status): policy?.retries(status: status) ?? false
        case .reset: policy?.retriesReset ?? false
        case .perTryTimeout: true
        }
        guard covered else { return .stop(retryLimitReached: false) }
        if retriesLeft > 0, retryable, replay != nil {
            retriesLeft -= 1
            return .retry
        }
        return .stop(retryLimitReached: (policy?.attempts ?? 0) > 0 && retriesLeft == 0)
    }
}
