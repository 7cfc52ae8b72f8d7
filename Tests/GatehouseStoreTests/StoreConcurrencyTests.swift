import Foundation
import GatehouseCore
import Testing

@testable import GatehouseStore

/// Optimistic concurrency and the change feed: what lets several writers share one store.
/// Each runs once per store (`StoreBackend`): SQLite, and a real PostgreSQL on 127.0.0.1.
extension ConfigStoreSuites {
@Suite("Every config store between several writers", .timeLimit(.minutes(3)))
struct StoreConcurrencyTests {
    func document(_ name: String, _ text: String, kind: String = "Function") -> ResourceDocument {
        storedDocument(name, text, kind: kind, lineOffset: 0)
    }

    func change(_ document: ResourceDocument, generation: Int, expected: ExpectedVersion, delete: Bool = false) -> ResourceChange {
        ResourceChange(
            operation: delete ? .deleted : expected == .absent ? .created : .configured, key: document.key,
            document: delete ? nil : document, generation: generation, expected: expected, origin: document.origin, diff: "")
    }

    func conflict(_ body: () async throws -> Void) async -> StoreError.Conflict? {
        do {
            try await body()
            Issue.record("expected a conflict")
            return nil
        } catch let error as StoreError {
            #expect(error.reason == .conflict, "\(error)")
            return error.conflict
        } catch {
            Issue.record("expected a StoreError, got \(error)")
            return nil
        }
    }

    @Test("Every commit makes the next store revision, and each resource remembers the one that wrote it", arguments: StoreBackend.allCases)
    func revisions(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.open()
            #expect(try await store.revision() == 0)
            let a = document("a", "a: 1"), b = document("b", "b: 1")
            #expect(try await store.commit([change(a, generation: 1, expected: .absent), change(b, generation: 1, expected: .absent)], basedOn: nil, actor: "t", at: Date()) == 1)
            let read = try await store.state()
            #expect(read.revision == 1 && read.resources.map(\.revision) == [1, 1])
            let next = try await store.commit([change(document("b", "b: 2"), generation: 2, expected: read.resources[1].version)], basedOn: nil, actor: "t", at: Date())
            #expect(next == 2)
            #expect(try await store.state().resources.map(\.revision) == [1, 2])
            #expect(try await store.revision() == 2)
        }
    }

    @Test("A change validated against an older store revision is refused, even when it touches other resources", arguments: StoreBackend.allCases)
    func wholeStoreBasis(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.open()
            try await store.commit([change(document("fn", "fn: 1"), generation: 1, expected: .absent)], basedOn: nil, actor: "t", at: Date())
            let basis = try await store.revision()
            // Another writer deletes the function meanwhile...
            let stored = try await store.state().resources[0]
            try await store.commit([change(stored.document, generation: 1, expected: stored.version, delete: true)], basedOn: nil, actor: "other", at: Date())
            // ...so a route to it, validated while it existed, must not land beside the deletion.
            let route = change(document("route", "to: fn", kind: "VirtualService"), generation: 1, expected: .absent)
            let found = await conflict { try await store.commit([route], basedOn: basis, actor: "t", at: Date()) }
            #expect(found?.currentRevision == basis + 1)
            #expect(try await store.state().resources.isEmpty, "nothing of the refused change was written")
            #expect(try await store.commit([route], basedOn: basis + 1, actor: "t", at: Date()) == basis + 2)
        }
    }

    @Test("A change built on a version that is no longer stored is refused, with the whole batch", arguments: StoreBackend.allCases)
    func staleVersionRefused(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.open()
            try await store.commit(
                [change(document("a", "a: 1"), generation: 1, expected: .absent), change(document("b", "b: 1"), generation: 1, expected: .absent)], basedOn: nil,
                actor: "t", at: Date())
            let read = try await store.state()
            // Someone else changes a in between.
            try await store.commit([change(document("a", "a: 2"), generation: 2, expected: read.resources[0].version)], basedOn: nil, actor: "other", at: Date())

            let refused = await conflict {
                try await store.commit(
                    [change(document("b", "b: 2"), generation: 2, expected: read.resources[1].version),
                     change(document("a", "a: mine"), generation: 2, expected: read.resources[0].version)], basedOn: nil,
                    actor: "me", at: Date())
            }
            #expect(refused?.key.name == "a")
            #expect(refused?.currentGeneration == 2)
            let after = try await store.state()
            #expect(after.revision == 2, "nothing was committed")
            #expect(after.resources.map(\.document.text) == ["a: 2", "b: 1"], "not even the change to b")
            #expect(try await store.history(HistoryFilter(), limit: 10).count == 3)
        }
    }

    @Test("The same generation with other content is still a conflict: the store revision decides", arguments: StoreBackend.allCases)
    func sameGenerationOtherContent(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.open()
            try await store.commit([change(document("a", "a: 1"), generation: 1, expected: .absent)], basedOn: nil, actor: "t", at: Date())
            let read = try await store.resources()[0]
            // A traffic-only change keeps a Function's generation.
            try await store.commit([change(document("a", "a: 1 # traffic"), generation: 1, expected: read.version)], basedOn: nil, actor: "other", at: Date())
            let refused = await conflict {
                try await store.commit([change(document("a", "a: 1 # mine"), generation: 1, expected: read.version)], basedOn: nil, actor: "me", at: Date())
            }
            #expect(refused?.currentGeneration == 1)
            #expect(try await store.resources()[0].document.text == "a: 1 # traffic")
        }
    }

    @Test("Creating what exists, and changing or deleting what is gone, are conflicts", arguments: StoreBackend.allCases)
    func existenceConflicts(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.open()
            let a = document("a", "a: 1")
            try await store.commit([change(a, generation: 1, expected: .absent)], basedOn: nil, actor: "t", at: Date())
            let created = await conflict { try await store.commit([change(a, generation: 1, expected: .absent)], basedOn: nil, actor: "t", at: Date()) }
            #expect(created?.currentGeneration == 1)

            let read = try await store.resources()[0]
            try await store.commit([change(a, generation: 1, expected: read.version, delete: true)], basedOn: nil, actor: "other", at: Date())
            let deleted = await conflict { try await store.commit([change(a, generation: 1, expected: read.version, delete: true)], basedOn: nil, actor: "t", at: Date()) }
            #expect(deleted != nil && deleted?.currentGeneration == nil, "it is gone now")
        }
    }

    @Test("Of several writers on separate connections that read the same version, exactly one wins", arguments: StoreBackend.allCases)
    func oneWinnerAcrossConnections(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let first = try await fixture.open()
            try await first.commit([change(document("a", "a: 0"), generation: 1, expected: .absent)], basedOn: nil, actor: "t", at: Date())
            let read = try await first.resources()[0].version
            let writers = 6
            // Each writer has its own connection, as another process would.
            let stores = try await fixture.openSeveral(writers)
            let outcomes = await withTaskGroup(of: Bool?.self) { group in
                for (index, store) in stores.enumerated() {
                    group.addTask {
                        do {
                            try await store.commit(
                                [self.change(self.document("a", "a: \(index + 1)"), generation: 2, expected: read)], basedOn: nil, actor: "w\(index)", at: Date())
                            return true
                        } catch {
                            return (error as? StoreError)?.reason == .conflict ? false : nil
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == true }.count == 1, "\(outcomes)")
            #expect(outcomes.filter { $0 == false }.count == writers - 1, "every other writer got a conflict, not another error: \(outcomes)")
            #expect(try await first.revision() == 2)
        }
    }

    @Test("The change feed brings every batch after a revision, whoever committed it, and resumes from the last one seen", arguments: StoreBackend.allCases)
    func feed(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let reader = try await fixture.open()
            let writer = try await fixture.open()  // another connection: another process's, as far as SQLite can tell
            try await writer.commit([change(document("a", "a: 1"), generation: 1, expected: .absent)], basedOn: nil, actor: "w", at: Date())

            var feed = reader.changes(after: 0).makeAsyncIterator()
            let first = try await feed.next()
            #expect(first?.revision == 1 && first?.entries.map(\.name) == ["a"], "what was there before the feed opened comes first")

            // Committed while the feed waits: two resources in one batch, then another batch.
            let a = try await writer.resources()[0].version
            try await writer.commit(
                [change(document("a", "a: 2"), generation: 2, expected: a), change(document("b", "b: 1"), generation: 1, expected: .absent)], basedOn: nil,
                actor: "w", at: Date())
            try await writer.commit([change(document("c", "c: 1"), generation: 1, expected: .absent)], basedOn: nil, actor: "w", at: Date())
            let second = try await feed.next()
            #expect(second?.revision == 2 && second?.entries.map(\.name) == ["a", "b"])
            #expect(try await feed.next()?.revision == 3)

            // A consumer that saw revision 2 resumes from there.
            var resumed = reader.changes(after: 2).makeAsyncIterator()
            #expect(try await resumed.next()?.entries.map(\.name) == ["c"])
        }
    }

    @Test("A feed ends when the task reading it is cancelled", arguments: StoreBackend.allCases)
    func feedCancelled(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.open()
            let reading = Task {
                var count = 0
                do { for try await _ in store.changes(after: 0) { count += 1 } } catch {}
                return count
            }
            reading.cancel()
            #expect(await reading.value == 0)
        }
    }
}
}
