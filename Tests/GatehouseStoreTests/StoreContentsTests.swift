import Foundation
import GatehouseCore
import GatehouseStore
import Testing

/// What a store keeps — resources, history, Function revisions — run once per store
/// (`StoreBackend`): SQLite, and a real PostgreSQL on 127.0.0.1.
extension ConfigStoreSuites {
@Suite("What every config store keeps", .timeLimit(.minutes(3)))
struct StoreContentsTests {
    func document(_ name: String, _ text: String, kind: String = "Function") -> ResourceDocument {
        storedDocument(name, text, kind: kind, lineOffset: 3)
    }

    func change(
        _ operation: ResourceChange.Operation, _ document: ResourceDocument, generation: Int, expected: ExpectedVersion = .absent
    ) -> ResourceChange {
        ResourceChange(
            operation: operation, key: document.key, document: operation == .deleted ? nil : document,
            generation: generation, expected: expected, origin: document.origin, diff: "+ x")
    }

    /// Commits `changes` as a writer that has just read the store: each expects what is there.
    @discardableResult
    func commit(_ store: any ConfigStore, _ changes: [ResourceChange], actor: String, at time: Date) async throws -> Int64 {
        let stored = try await store.resources()
        let read = changes.map { change in
            var change = change
            change.expected = stored.first { $0.document.key == change.key }?.version ?? .absent
            return change
        }
        return try await store.commit(read, basedOn: nil, actor: actor, at: time)
    }

    @Test("Each new generation of a Function is kept as an immutable revision; deleting the Function deletes them", arguments: StoreBackend.allCases)
    func revisions(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.open()
            let key = FunctionKey(namespace: "default", name: "a")
            try await commit(store, [change(.created, document("a", "v: 1"), generation: 1)], actor: "alice", at: Date(timeIntervalSince1970: 100))
            try await commit(store, [change(.configured, document("a", "v: 2"), generation: 2)], actor: "bob", at: Date(timeIntervalSince1970: 200))
            // Traffic changed, the generation did not: revision 2 keeps the text it was made with.
            try await commit(store, [change(.configured, document("a", "v: 2 # traffic"), generation: 2)], actor: "bob", at: Date(timeIntervalSince1970: 300))
            try await commit(store, [change(.created, document("p", "p: 1", kind: "Mesh"), generation: 1)], actor: "alice", at: Date(timeIntervalSince1970: 300))

            let kept = try await fixture.open().revisions(of: key)
            #expect(kept.map(\.key.name) == ["a-00001", "a-00002"])
            #expect(kept.map(\.document.text) == ["v: 1", "v: 2"])
            #expect(kept.map(\.createdBy) == ["alice", "bob"])
            #expect(try await store.revisions(of: nil).count == 2, "only Functions have revisions")

            try await store.dropRevisions([RevisionKey(function: key, number: 1)])
            #expect(try await store.revisions(of: key).map(\.key.number) == [2])
            try await commit(store, [change(.deleted, document("a", ""), generation: 2)], actor: "alice", at: Date(timeIntervalSince1970: 400))
            #expect(try await store.revisions(of: key).isEmpty)
        }
    }

    @Test("What is committed is there after reopening, in first-applied order, with its history", arguments: StoreBackend.allCases)
    func commitAndReopen(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let a = document("a", "a: 1"), b = document("b", "b: 1")
            let store = try await fixture.open()
            try await commit(store, [change(.created, a, generation: 1), change(.created, b, generation: 1)], actor: "alice", at: Date(timeIntervalSince1970: 100))
            try await commit(store, [change(.configured, document("a", "a: 2"), generation: 2)], actor: "bob", at: Date(timeIntervalSince1970: 200))

            let reopened = try await fixture.open()
            let resources = try await reopened.resources()
            #expect(resources.map(\.document.key.name) == ["a", "b"])
            #expect(resources[0].document.text == "a: 2")
            #expect(resources[0].document.origin == "/cfg/a.yaml:4")
            #expect(resources[0].generation == 2)
            #expect(resources[0].appliedBy == "bob")

            let history = try await reopened.history(HistoryFilter(), limit: 10)
            #expect(history.map(\.operation) == [.configured, .created, .created])
            #expect(history.map(\.batch) == [2, 1, 1])
            #expect(try await reopened.history(HistoryFilter(kind: "function", name: "b"), limit: 10).map(\.name) == ["b"])
            #expect(try await reopened.history(HistoryFilter(), limit: 1).count == 1)
        }
    }

    @Test("A deletion removes the resource and is kept in the history", arguments: StoreBackend.allCases)
    func delete(_ backend: StoreBackend) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.open()
            let a = document("a", "a: 1")
            try await commit(store, [change(.created, a, generation: 1)], actor: "alice", at: Date())
            try await commit(store, [change(.deleted, a, generation: 1)], actor: "alice", at: Date())
            #expect(try await store.resources().isEmpty)
            #expect(try await store.history(HistoryFilter(name: "a"), limit: 10).map(\.operation) == [.deleted, .created])
        }
    }
}
}
