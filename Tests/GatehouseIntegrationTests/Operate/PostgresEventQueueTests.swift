import Foundation
import GatehouseTesting
import Testing

/// Two `gatehouse up` nodes on one PostgreSQL share one event queue: an event accepted by either
/// is delivered by whichever node leases it, and the deliveries a node leased before `kill -9`
/// are delivered by the other once its leases expire.
extension PostgresMeshSuites {
@Suite("An event queue shared by two gatehouse nodes on PostgreSQL", .serialized, .timeLimit(.minutes(5)))
struct PostgresEventQueueTests {
    /// A Broker, a Trigger to `sink` (retried while a node dies and the function moves), and `sink`,
    /// whose instances take `coldStart` longer to start: a window in which a node holds leases.
    static func config(records: URL, coldStart: Int = 0) -> String {
        let sink = CloudEventsFixture.function(name: "sink", records: records)
            .replacingOccurrences(of: #"command: ["python3", "#, with: #"command: ["sh", "-c", "sleep \#(coldStart); exec \"$0\" \"$@\"", "python3", "#)
        return """
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default, namespace: default}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: all, namespace: default}
            spec:
              broker: default
              subscriber: {ref: {apiVersion: gatehouse.dev/v1, kind: Function, name: sink}}
              delivery: {retry: 30, backoffPolicy: linear, backoffDelay: PT1S, timeout: PT10S}
            ---
            \(sink)
            """
    }

    /// A fresh database, the arguments that point a node at it, and its name.
    static func withDatabase(_ body: ([String], PostgresServer, String) async throws -> Void) async throws {
        let server = try await PostgresServer.sharedOffPool()
        let database = try await server.makeDatabaseOffPool()
        defer { server.dropLater(database) }
        let passwordFile = server.directory.appendingPathComponent("gatehouse-password")
        try Data((server.password + "\n").utf8).write(to: passwordFile)
        try await body(["--store", server.url(database: database), "--store-password-file", passwordFile.path], server, database)
    }

    static func publish(_ ids: [String], to node: RunningGatehouse) async throws {
        for id in ids {
            let response = try await RunningGatehouse.send(
                url: node.ingress + "/default/default", host: "broker-ingress.\(node.domain)", method: .POST,
                headers: [("ce-specversion", "1.0"), ("ce-id", id), ("ce-source", "/mesh"), ("ce-type", "job.done"), ("content-type", "application/json")],
                body: Array(#"{"id": "\#(id)"}"#.utf8))
            #expect(response.status == 202, "\(response.body)")
        }
    }

    static func delivered(_ records: URL) -> Set<String> {
        Set(CloudEventsFixture.received(by: "sink", in: records).compactMap { ($0["attributes"] as? [String: Any])?["id"] as? String })
    }

    @Test("Events accepted by one node are delivered, and counted once for the mesh")
    func acceptedAnywhereDelivered() async throws {
        try await CloudEventsFixture.ensureInstalled()
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        let records = try CloudEventsFixture.write(into: directory)
        try await Self.withDatabase { arguments, server, database in
            let first = try await RunningGatehouse.start(config: Self.config(records: records), arguments: arguments, directory: directory)
            let second = try await RunningGatehouse.start(config: "", arguments: arguments, applyingConfig: false)
            do {
                try CloudEventsFixture.write(into: second.directory)
                let ids = (0..<10).map { "at-second-\($0)" }
                try await Self.publish(ids, to: second)
                _ = try await eventually("every event delivered", timeout: .seconds(120)) { Self.delivered(records).isSuperset(of: ids) ? true : nil }
                _ = try await eventually("every delivery settled") {
                    try await server.sqlOffPool("SELECT count(*) FROM gatehouse_delivery", database: database) == "0" ? true : nil
                }
                let counted = try await server.sqlOffPool("SELECT delivered FROM gatehouse_trigger_stats WHERE trigger = 'default/all'", database: database)
                #expect(counted == "10", "one count for the mesh")
            } catch {
                print("--- first stderr ---\n\(first.stderr.suffix(4000))\n--- second stderr ---\n\(second.stderr.suffix(4000))")
                _ = try? await second.stop()
                _ = try? await first.stop()
                throw error
            }
            try await second.stop()
            try await first.stop()
            second.removeDirectory()
            first.removeDirectory()
        }
    }

    @Test("Deliveries a node leased before kill -9 are delivered by the other node once their leases expire")
    func deadNodesDeliveriesTakenOver() async throws {
        try await CloudEventsFixture.ensureInstalled()
        let directory = try RunningGatehouse.makeTemporaryDirectory()
        let records = try CloudEventsFixture.write(into: directory)
        try await Self.withDatabase { arguments, server, database in
            let first = try await RunningGatehouse.start(config: Self.config(records: records, coldStart: 8), arguments: arguments, directory: directory)
            let ids = (0..<6).map { "leased-\($0)" }
            try await Self.publish(ids, to: first)
            // The first node leases them at once, then waits for `sink` (8 s to start): killed meanwhile.
            let leasedByFirst = "SELECT count(*) FROM gatehouse_delivery WHERE owner = '\(first.nodeName)'"
            _ = try await eventually("the first node holds the leases", timeout: .seconds(5)) {
                try await server.sqlOffPool(leasedByFirst, database: database) == String(ids.count) ? true : nil
            }
            try await first.kill()
            #expect(Self.delivered(records).isEmpty, "killed before any delivery")
            #expect(try await server.sqlOffPool(leasedByFirst, database: database) == String(ids.count), "its leases outlive it")

            let second = try await RunningGatehouse.start(config: "", arguments: arguments, applyingConfig: false)
            let killed = ContinuousClock.now
            do {
                try CloudEventsFixture.write(into: second.directory)
                // A lease lasts twice the attempt timeout (10 s) plus 30 s; then a cold start of 8 s.
                _ = try await eventually("every leased event delivered by the second node", timeout: .seconds(150)) {
                    Self.delivered(records).isSuperset(of: ids) ? true : nil
                }
                print("a dead node's leased deliveries were delivered by another \(ContinuousClock.now - killed) after it started")
                // A function records an event before it answers; the delivery is settled after.
                _ = try await eventually("every delivery settled") {
                    try await server.sqlOffPool("SELECT count(*) FROM gatehouse_delivery", database: database) == "0" ? true : nil
                }
            } catch {
                print("--- second stderr ---\n\(second.stderr.suffix(6000))")
                _ = try? await second.stop()
                throw error
            }
            try await second.stop()
            second.removeDirectory()
            // The first's orphaned instances are reaped by a start from its directory.
            let restarted = try await first.restart(arguments: arguments, applyingConfig: false)
            try await restarted.stop()
            first.removeDirectory()
        }
    }
}
}
