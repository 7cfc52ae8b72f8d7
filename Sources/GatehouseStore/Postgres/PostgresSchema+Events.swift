extension PostgresSchema {
    /// Step 6: the shared event queue (`PostgresEventStore`), the same tables as `SQLiteEventStore`'s
    /// with a `gatehouse_` prefix. Times are seconds since 1970 as `DOUBLE PRECISION` (the
    /// callers' clocks, as on SQLite); blobs are `StoredBlobWriter` bytes in `BYTEA`.
    ///
    /// - `gatehouse_event_totals`: the one row of pending deliveries + calls and their bytes that
    ///   the bounds are checked against. An accept locks it (`FOR UPDATE`) before checking, so the
    ///   bounds hold across every node; everything else that changes the pending work adds its
    ///   delta in the same transaction, after its own row locks.
    /// - `gatehouse_delivery`: `owner` NULL while pending, the leasing node's name while leased;
    ///   `due` is the next time it may be leased (first or retry time, or the lease's expiry), so
    ///   one range on `(trigger, due)` finds due pending rows and expired leases alike.
    /// - `gatehouse_async_call`: `seq` orders calls accepted in the same instant.
    static let eventTables: [String] = [
        "CREATE TABLE gatehouse_event_totals (id INT PRIMARY KEY CHECK (id = 1), pending BIGINT NOT NULL, bytes BIGINT NOT NULL)",
        "INSERT INTO gatehouse_event_totals (id, pending, bytes) VALUES (1, 0, 0)",
        """
        CREATE TABLE gatehouse_event (
          id BIGSERIAL PRIMARY KEY, broker TEXT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL,
          accepted_at DOUBLE PRECISION NOT NULL, body BYTEA NOT NULL, size BIGINT NOT NULL)
        """,
        """
        CREATE TABLE gatehouse_delivery (
          id BIGSERIAL PRIMARY KEY, event BIGINT NOT NULL, trigger TEXT NOT NULL, phase TEXT NOT NULL,
          due DOUBLE PRECISION NOT NULL, owner TEXT, attempts BIGINT NOT NULL, accepted_at DOUBLE PRECISION NOT NULL,
          override BYTEA, override_size BIGINT NOT NULL DEFAULT 0)
        """,
        "CREATE INDEX gatehouse_delivery_due ON gatehouse_delivery (trigger, due)",
        "CREATE INDEX gatehouse_delivery_accepted ON gatehouse_delivery (trigger, accepted_at)",
        "CREATE INDEX gatehouse_delivery_event ON gatehouse_delivery (event)",
        "CREATE INDEX gatehouse_delivery_owner ON gatehouse_delivery (owner) WHERE owner IS NOT NULL",
        """
        CREATE TABLE gatehouse_trigger_stats (
          trigger TEXT PRIMARY KEY, delivered BIGINT NOT NULL DEFAULT 0, retried BIGINT NOT NULL DEFAULT 0,
          dead_lettered BIGINT NOT NULL DEFAULT 0)
        """,
        """
        CREATE TABLE gatehouse_delivery_outcome (
          id BIGSERIAL PRIMARY KEY, trigger TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, event_id TEXT NOT NULL,
          event_type TEXT NOT NULL, result TEXT NOT NULL, status BIGINT, reason TEXT)
        """,
        "CREATE INDEX gatehouse_delivery_outcome_trigger ON gatehouse_delivery_outcome (trigger, id)",
        """
        CREATE TABLE gatehouse_dead_letter (
          id BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION NOT NULL, broker TEXT NOT NULL, trigger TEXT NOT NULL,
          event_id TEXT NOT NULL, body BYTEA NOT NULL, status BIGINT, reason TEXT NOT NULL, sent_to_sink BOOLEAN NOT NULL)
        """,
        "CREATE INDEX gatehouse_dead_letter_broker ON gatehouse_dead_letter (broker, id)",
        """
        CREATE TABLE gatehouse_schedule_fired (
          schedule TEXT NOT NULL, minute BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL, PRIMARY KEY (schedule, minute))
        """,
        """
        CREATE TABLE gatehouse_async_call (
          id TEXT PRIMARY KEY, seq BIGSERIAL NOT NULL, accepted_at DOUBLE PRECISION NOT NULL, request BYTEA,
          size BIGINT NOT NULL, due DOUBLE PRECISION NOT NULL, owner TEXT, done BOOLEAN NOT NULL DEFAULT false,
          result BYTEA, keep_until DOUBLE PRECISION)
        """,
        "CREATE INDEX gatehouse_async_call_due ON gatehouse_async_call (done, due)",
        "CREATE INDEX gatehouse_async_call_owner ON gatehouse_async_call (owner) WHERE owner IS NOT NULL",
    ]
}
