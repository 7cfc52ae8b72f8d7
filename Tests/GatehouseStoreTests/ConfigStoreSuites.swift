import Testing

/// The config store suites that run against PostgreSQL as well as SQLite, one after another: run
/// beside every other suite of the test process at once, their databases, connections and feeds
/// on a 2-core machine made each other (and unrelated suites) miss their time limits.
@Suite("Config stores (SQLite and PostgreSQL)", .serialized)
enum ConfigStoreSuites {}
