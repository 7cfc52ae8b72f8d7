import Foundation
import GatehouseIdentity
import GatehouseStore
import GatehouseTelemetry
import GRDB
import Logging
import Prometheus
import Testing

@Suite("The audit writer: drops said in the chain, refused admin calls bounded")
struct AuditTrailTests {
    struct Fixture {
        let directory: URL
        let path: String
        let trail: AuditTrail

        init(_ edit: (inout AuditTrail.Settings) -> Void) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            path = directory.appendingPathComponent("audit.db").path
            let authority = try CertificateAuthority.create(trustDomain: "cluster.local")
            let signer = AuditSigner(directory: directory.appendingPathComponent("audit"), trustDomain: "cluster.local", namespace: "istio-system") { authority }
            var settings = AuditTrail.Settings()
            edit(&settings)
            trail = AuditTrail(
                log: try SQLiteAuditLog(path: path, busyTimeout: 0.05), signer: signer, settings: settings,
                registry: PrometheusCollectorRegistry(), logger: Logger(label: "audit-test"))
        }

        func records(_ kind: AuditKind) async throws -> [AuditEvent] {
            try await trail.log.records(AuditQuery(kind: kind.rawValue, limit: 1000)).map(\.event)
        }
    }

    static func denial(_ index: Int) -> AuditEvent {
        var event = AuditEvent(kind: .requestDenied, at: Date())
        event.requestId = "r-\(index)"
        return event
    }

    @Test("A batch that cannot be written while audit.db is locked is counted with the drops it was to report")
    func droppedWhileLocked() async throws {
        let fixture = try Fixture { $0.maxQueued = 2 }
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        for index in 1...5 { fixture.trail.enqueue(Self.denial(index)) }  // 2 queued, 3 dropped

        // Another process holds the write lock (the reviewer's lock.py).
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        let lock = try DatabaseQueue(path: fixture.path, configuration: configuration)
        try await lock.writeWithoutTransaction { try $0.execute(sql: "BEGIN EXCLUSIVE") }
        await fixture.trail.flush()  // fails: its 2 records and the 3 it was to report are lost
        try await lock.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }

        fixture.trail.enqueue(Self.denial(6))
        await fixture.trail.flush()
        let gaps = try await fixture.records(.recordsDropped)
        #expect(gaps.map(\.count) == [5], "\(gaps)")
        #expect(try await fixture.records(.requestDenied).map(\.requestId) == ["r-6"])
    }

    @Test("Refused admin calls past the per-second bound are counted in one record, not queued one by one")
    func refusalsBounded() async throws {
        let fixture = try Fixture { $0.maxRefusedPerSecond = 3 }
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        for _ in 0..<10 {
            var refused = AuditEvent(kind: .adminRefused, at: Date())
            refused.reason = "wrong token"
            fixture.trail.enqueue(refused)
        }
        fixture.trail.enqueue(Self.denial(1))
        await fixture.trail.flush()
        let refusals = try await fixture.records(.adminRefused)
        #expect(refusals.count == 4 && refusals.last?.count == 7, "\(refusals)")
        #expect(try await fixture.records(.requestDenied).count == 1)
    }
}
