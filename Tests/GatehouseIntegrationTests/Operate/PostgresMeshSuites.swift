import Testing

/// The suites that run several `gatehouse up` processes on PostgreSQL, one after another: each
/// starts nodes (and some a PostgreSQL of their own), and side by side on a 2-core machine they
/// slowed every other suite past its bounds.
@Suite("Nodes on PostgreSQL", .serialized)
struct PostgresMeshSuites {}
