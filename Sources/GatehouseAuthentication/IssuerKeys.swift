import AsyncHTTPClient
import Foundation
import GatehouseCore
import GatehouseOutbound
import Logging
import NIOCore
import Synchronization

/// One source of keys — inline JWKS, a `jwksUri`, or an issuer found by OIDC discovery — with its
/// last good key set.
///
/// Fetches are coalesced and at most one starts per `minimumFetchInterval`, whatever asks (a token
/// with an unknown `kid`, a request while no keys are loaded, the schedule). A failed or empty
/// fetch never replaces a good set: tokens keep verifying against the last good keys while the
/// issuer is down, and an issuer that comes up late is picked up by the next attempt.
actor IssuerKeys {
    enum Source: Hashable, Sendable, CustomStringConvertible {
        case inline(String)
        case url(String)
        case discovery(issuer: String)

        /// Where a rule's keys come from: inline, its `jwksUri`, or discovery from its issuer.
        init(_ rule: RequestAuthenticationSpec.JWTRule) {
            self = if let jwks = rule.jwks { .inline(jwks) } else if let uri = rule.jwksURI { .url(uri) } else { .discovery(issuer: rule.issuer) }
        }

        var description: String {
            switch self {
            case .inline: "inline jwks"
            case .url(let url): url
            case .discovery(let issuer): "OIDC discovery for \(issuer)"
            }
        }
    }

    static let minimumFetchInterval: Duration = .seconds(5)
    /// How often loaded keys are fetched again (istiod's default for JWKS).
    static let refreshInterval: Duration = .seconds(20 * 60)
    /// Responses larger than this are refused: a key set is a few kilobytes.
    static let maximumDocumentBytes = 1 << 20

    nonisolated let id: Int
    nonisolated let source: Source
    private let timeout: Duration
    private let client: ControlPlaneClient
    private let logger: Logger
    private let keysChanged: @Sendable (Int) -> Void
    private var current: KeySet?
    /// `current`'s generation, readable without awaiting the actor (the cache keys entries by it).
    private let currentGeneration = Atomic<Int>(0)
    /// The document `current` was read from: a fetch that returns the same text changes nothing.
    private var currentDocument: String?
    private var loadedAt: ContinuousClock.Instant?
    private var lastAttempt: ContinuousClock.Instant?
    private var inFlight: Task<Void, Never>?

    init(id: Int, source: Source, timeout: Duration, client: ControlPlaneClient, logger: Logger, keysChanged: @escaping @Sendable (Int) -> Void) {
        self.id = id
        self.client = client
        self.source = source
        self.timeout = timeout
        self.logger = logger
        self.keysChanged = keysChanged
    }

    /// The generation of the keys now in use; a token verified under an older one is not trusted
    /// from the cache.
    nonisolated var generation: Int { currentGeneration.load(ordering: .acquiring) }

    /// The keys to verify with, loading them first if none are loaded yet (when a fetch is allowed).
    func keySet() async -> KeySet? {
        if current == nil { await fetchIfAllowed() }
        return current
    }

    /// A token names a `kid` the current keys lack (the issuer may have rotated): fetch again if allowed.
    func refreshForUnknownKey() async -> KeySet? {
        if case .inline = source, current != nil { return current }
        await fetchIfAllowed()
        return current
    }

    /// Called by the directory's schedule: retries while nothing is loaded, refreshes when due.
    func scheduledRefresh() async {
        if case .inline = source, current != nil { return }
        if let loadedAt, ContinuousClock.now - loadedAt < Self.refreshInterval { return }
        await fetchIfAllowed()
    }

    private func fetchIfAllowed() async {
        if let inFlight {
            await inFlight.value
            return
        }
        if let lastAttempt, ContinuousClock.now - lastAttempt < Self.minimumFetchInterval { return }
        lastAttempt = .now
        let task = Task { await self.fetch() }
        inFlight = task
        await task.value
        inFlight = nil
    }

    private func fetch() async {
        do {
            let text = try await document()
            if text == currentDocument {
                loadedAt = .now
                return
            }
            var loaded = try await KeySet.load(jwksJSON: text)
            for problem in loaded.skipped { logger.warning("JWKS key skipped", metadata: ["source": "\(source)", "problem": "\(problem)"]) }
            guard !loaded.keys.isEmpty else {
                throw KeySetError(description: "the key set has no usable signing key")
            }
            let changed = current != nil
            loaded.generation = (current?.generation ?? 0) + 1
            current = loaded
            currentGeneration.store(loaded.generation, ordering: .releasing)
            currentDocument = text
            loadedAt = .now
            if changed { keysChanged(id) }
        } catch {
            logger.warning(
                "cannot load JWT keys; \(current == nil ? "tokens from this issuer are refused until they load" : "keeping the last good keys")",
                metadata: ["source": "\(source)", "error": "\(error)"])
        }
    }

    private func document() async throws -> String {
        switch source {
        case .inline(let json):
            return json
        case .url(let url):
            return try await get(url)
        case .discovery(let issuer):
            let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
            let configuration = try await get(base + "/.well-known/openid-configuration")
            guard let object = try? JSONSerialization.jsonObject(with: Data(configuration.utf8)) as? [String: Any],
                  let jwksURI = object["jwks_uri"] as? String else {
                throw KeySetError(description: "the issuer's openid-configuration has no jwks_uri")
            }
            return try await get(jwksURI)
        }
    }

    private func get(_ url: String) async throws -> String {
        let response = try await client.execute(
            HTTPClientRequest(url: url), timeout: timeout, maxBodyBytes: Self.maximumDocumentBytes)
        guard response.status == 200 else { throw KeySetError(description: "GET \(url): HTTP \(response.status)") }
        guard !response.truncated else { throw KeySetError(description: "GET \(url): larger than \(Self.maximumDocumentBytes) bytes") }
        return String(buffer: response.body)
    }
}
