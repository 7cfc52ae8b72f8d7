import GRDB

extension SQLiteEventStore {
    /// The schema's steps, in order. Tables are `STRICT` (a value of the wrong type is refused on
    /// the way in); rows are still read defensively, since a hostile hand can rebuild a table.
    ///
    /// - `event`: each accepted event once (`body`: `EventRowCoding`; `eventId`, `type` as columns
    ///   for `sqlite3` readers and outcomes), deleted with its last delivery.
    /// - `delivery`: one row per (event, trigger). `owner` is NULL while pending, the leasing
    ///   node while leased. `due` is when it may next be leased: its first or retry time while
    ///   pending, its lease's expiry while leased — so one range on `(trigger, due)` finds both the
    ///   due pending rows and the expired leases, oldest first. In the dead-letter phase,
    ///   `override` holds the event with the `knativeerror*` extensions.
    /// - `trigger_stats`, `delivery_outcome` (trimmed to `outcomesPerTrigger` by `prune`),
    ///   `dead_letter` (trimmed to `maxDeadLetters`): what `describe trigger` and
    ///   `events dead-letters` show.
    /// - `schedule_fired`: one row per (schedule, minute) fired; the primary key is what keeps
    ///   two processes from firing one minute twice.
    /// - `async_call`: pending (`done` 0, `owner` as for deliveries) until its result is stored
    ///   (`done` 1, `request` dropped), then kept until `keepUntil`.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration(firstMigration) { db in
            try db.execute(sql: """
                CREATE TABLE event_totals (id INTEGER PRIMARY KEY CHECK (id = 1), pending INTEGER NOT NULL, bytes INTEGER NOT NULL) STRICT;
                INSERT INTO event_totals (id, pending, bytes) VALUES (1, 0, 0);
                CREATE TABLE event (
                  id INTEGER PRIMARY KEY, broker TEXT NOT NULL, eventId TEXT NOT NULL, type TEXT NOT NULL,
                  acceptedAt REAL NOT NULL, body BLOB NOT NULL, size INTEGER NOT NULL) STRICT;
                CREATE TABLE delivery (
                  id INTEGER PRIMARY KEY, event INTEGER NOT NULL, trigger TEXT NOT NULL, phase TEXT NOT NULL,
                  due REAL NOT NULL, owner TEXT, attempts INTEGER NOT NULL, acceptedAt REAL NOT NULL,
                  override BLOB, overrideSize INTEGER NOT NULL DEFAULT 0) STRICT;
                CREATE INDEX delivery_due ON delivery (trigger, due);
                CREATE INDEX delivery_accepted ON delivery (trigger, acceptedAt);
                CREATE INDEX delivery_event ON delivery (event);
                CREATE INDEX delivery_owner ON delivery (owner) WHERE owner IS NOT NULL;
                CREATE TABLE trigger_stats (
                  trigger TEXT PRIMARY KEY, delivered INTEGER NOT NULL DEFAULT 0, retried INTEGER NOT NULL DEFAULT 0,
                  deadLettered INTEGER NOT NULL DEFAULT 0) STRICT, WITHOUT ROWID;
                CREATE TABLE delivery_outcome (
                  id INTEGER PRIMARY KEY, trigger TEXT NOT NULL, at REAL NOT NULL, eventId TEXT NOT NULL, eventType TEXT NOT NULL,
                  result TEXT NOT NULL, status INTEGER, reason TEXT) STRICT;
                CREATE INDEX delivery_outcome_trigger ON delivery_outcome (trigger, id);
                CREATE TABLE dead_letter (
                  id INTEGER PRIMARY KEY, at REAL NOT NULL, broker TEXT NOT NULL, trigger TEXT NOT NULL, eventId TEXT NOT NULL,
                  body BLOB NOT NULL, status INTEGER, reason TEXT NOT NULL, sentToSink INTEGER NOT NULL) STRICT;
                CREATE INDEX dead_letter_broker ON dead_letter (broker, id);
                CREATE TABLE schedule_fired (
                  schedule TEXT NOT NULL, minute INTEGER NOT NULL, at REAL NOT NULL, PRIMARY KEY (schedule, minute)) STRICT, WITHOUT ROWID;
                CREATE TABLE async_call (
                  id TEXT PRIMARY KEY, acceptedAt REAL NOT NULL, request BLOB, size INTEGER NOT NULL, due REAL NOT NULL,
                  owner TEXT, done INTEGER NOT NULL DEFAULT 0, result BLOB, keepUntil REAL) STRICT;
                CREATE INDEX async_call_due ON async_call (done, due);
                CREATE INDEX async_call_owner ON async_call (owner) WHERE owner IS NOT NULL;
                """)
        }
        return migrator
    }

    static let firstMigration = "events-v1"

    /// Refuses a SQLite file that holds someone else's tables (a mistyped path, another store's
    /// file), or a newer Gatehouse's schema, before anything is written to it. True when the
    /// file has no tables yet (new).
    static func checkOwnership(_ db: Database, path: String) throws -> Bool {
        let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        guard !tables.isEmpty else { return true }
        let ours = try tables.contains("grdb_migrations")
            && String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations").contains(firstMigration)
        guard ours else {
            throw StoreError(.corrupt, path: path, detail: "it holds tables (\(tables.sorted().prefix(5).joined(separator: ", "))) but is not a Gatehouse events database")
        }
        if try migrator.hasBeenSuperseded(db) {
            throw StoreError(.failed, path: path, detail: "it was written by a newer Gatehouse (its schema has steps this one does not know)")
        }
        return false
    }
}
