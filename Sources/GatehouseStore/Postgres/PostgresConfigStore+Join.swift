import Foundation
import PostgresNIO

extension PostgresConfigStore: NodeJoining {
    public func createJoinToken(hash: String, lifetime: Duration, createdBy: String) async throws(StoreError) {
        let seconds = Double(lifetime.components.seconds)
        try await using { connection, logger in
            // Tokens and requests a day past use are of no further use: they go as new ones come.
            try await connection.query(
                "DELETE FROM gatehouse_join_token WHERE expires_at < now() - interval '1 day'", logger: logger)
            try await connection.query(
                "DELETE FROM gatehouse_join_request WHERE answered_at < now() - interval '1 day'", logger: logger)
            try await connection.query(
                """
                INSERT INTO gatehouse_join_token (hash, expires_at, created_by)
                VALUES (\(hash), now() + make_interval(secs => \(seconds)), \(createdBy))
                """, logger: logger)
        }
    }

    public func requestJoin(node: String, publicKeyPEM: String, tokenHash: String) async throws(StoreError) -> Int64 {
        try await using { connection, logger in
            let rows = try await connection.query(
                "INSERT INTO gatehouse_join_request (node, public_key, token) VALUES (\(node), \(publicKeyPEM), \(tokenHash)) RETURNING id",
                logger: logger)
            var id: Int64 = 0
            for try await inserted in rows.decode(Int64.self) { id = inserted }
            return id
        }
    }

    public func withdrawJoin(request: Int64) async throws(StoreError) {
        _ = try await using { connection, logger in
            try await connection.query("DELETE FROM gatehouse_join_request WHERE id = \(request) AND answered_at IS NULL", logger: logger)
        }
    }

    public func joinAnswer(request: Int64) async throws(StoreError) -> JoinAnswer? {
        try await using { connection, logger in
            let rows = try await connection.query(
                "SELECT chain, bundle, refusal FROM gatehouse_join_request WHERE id = \(request) AND answered_at IS NOT NULL",
                logger: logger)
            for try await (chain, bundle, refusal) in rows.decode((String?, String?, String?).self) {
                if let chain, let bundle { return .granted(chainPEM: chain, bundlePEM: bundle) }
                return .refused(refusal ?? "refused")
            }
            return nil
        }
    }

    public func answerNextJoin(
        sign: @escaping @Sendable (JoinRequest) throws -> (chainPEM: String, bundlePEM: String)
    ) async throws(StoreError) -> (node: String, granted: Bool)? {
        try await using { connection, logger in
            try await connection.query("BEGIN", logger: logger)
            do {
                let rows = try await connection.query(
                    """
                    SELECT id, node, public_key, token, created_at < now() - make_interval(secs => \(Double(JoinRequest.maxAgeSeconds))),
                      renewal_chain, renewal_proof
                    FROM gatehouse_join_request WHERE answered_at IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
                    """, logger: logger)
                var found: (Int64, String, String, String?, Bool, String?, String?)?
                for try await row in rows.decode((Int64, String, String, String?, Bool, String?, String?).self) { found = row }
                guard let (id, node, publicKey, tokenHash, stale, renewalChain, renewalProof) = found else {
                    try await connection.query("COMMIT", logger: logger)
                    return nil
                }
                let renewal = renewalChain.flatMap { chain in renewalProof.map { JoinRequest.Renewal(chainPEM: chain, proof: $0) } }
                // The token is spent here, whatever the outcome (unless the request is stale: its
                // node gave up, and the operator may still use the token). A renewal has none:
                // `sign` checks the intermediate that vouches for it.
                var spent = renewal != nil && !stale, granted = false
                if renewal == nil, let hash = tokenHash, !stale {
                    let used = try await connection.query(
                        """
                        UPDATE gatehouse_join_token SET used_at = now(), used_by = \(node)
                        WHERE hash = \(hash) AND used_at IS NULL AND expires_at > now() RETURNING hash
                        """, logger: logger)
                    for try await _ in used.decode(String.self) { spent = true }
                }
                if spent {
                    do {
                        let answer = try sign(JoinRequest(id: id, node: node, publicKeyPEM: publicKey, renewal: renewal))
                        try await connection.query(
                            """
                            UPDATE gatehouse_join_request SET answered_at = now(), token = NULL, renewal_proof = NULL,
                              chain = \(answer.chainPEM), bundle = \(answer.bundlePEM) WHERE id = \(id)
                            """, logger: logger)
                        granted = true
                    } catch {
                        let reason = "the node's key could not be certified: \(error)"
                        try await connection.query(
                            "UPDATE gatehouse_join_request SET answered_at = now(), token = NULL, refusal = \(reason) WHERE id = \(id)",
                            logger: logger)
                    }
                } else {
                    let reason = stale ? "the request waited too long for an answer" : "the join token is unknown, already used or expired"
                    // (A renewal is refused by `sign` alone: it is `spent` unless stale.)
                    try await connection.query(
                        "UPDATE gatehouse_join_request SET answered_at = now(), token = NULL, refusal = \(reason) WHERE id = \(id)",
                        logger: logger)
                }
                try await connection.query("COMMIT", logger: logger)
                return (node, granted)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    public func requestRenewal(node: String, publicKeyPEM: String, renewal: JoinRequest.Renewal) async throws(StoreError) -> Int64 {
        try await using { connection, logger in
            let rows = try await connection.query(
                """
                INSERT INTO gatehouse_join_request (node, public_key, renewal_chain, renewal_proof)
                VALUES (\(node), \(publicKeyPEM), \(renewal.chainPEM), \(renewal.proof)) RETURNING id
                """, logger: logger)
            var id: Int64 = 0
            for try await inserted in rows.decode(Int64.self) { id = inserted }
            return id
        }
    }

    public func publishTrustBundle(_ bundlePEM: String) async throws(StoreError) {
        _ = try await using { connection, logger in
            try await connection.query(
                """
                INSERT INTO gatehouse_trust_bundle (id, bundle, updated_at) VALUES (1, \(bundlePEM), now())
                ON CONFLICT (id) DO UPDATE SET bundle = excluded.bundle, updated_at = excluded.updated_at
                WHERE gatehouse_trust_bundle.bundle <> excluded.bundle
                """, logger: logger)
        }
    }

    public func trustBundle() async throws(StoreError) -> String? {
        try await using { connection, logger in
            for try await bundle in try await connection.query("SELECT bundle FROM gatehouse_trust_bundle WHERE id = 1", logger: logger).decode(String.self) {
                return bundle
            }
            return nil
        }
    }
}
