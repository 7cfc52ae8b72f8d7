import Foundation
import GatehouseCore
import Testing

@testable import GatehouseStore

#if canImport(Glibc)
import Glibc
#endif

/// An accept returns only once durable: a writer killed with SIGKILL mid-stream loses none of the
/// events it acknowledged. The writer is this test binary run again with
/// `GATEHOUSE_EVENTS_CRASH_WRITER` set (which enables only `crashWriter`), so it is the real store
/// in a real second process.
@Suite("Event store: durability across kill -9", .timeLimit(.minutes(2)))
struct EventStoreCrashTests {
    static let writerVariable = "GATEHOUSE_EVENTS_CRASH_WRITER"

    @Test("Every event a killed writer acknowledged is in the store after it", .enabled(if: ProcessInfo.processInfo.environment[writerVariable] == nil))
    func acknowledgedSurviveKill() async throws {
        let folder = try EventStoreFolder()
        defer { folder.remove() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        process.arguments = ["--testing-library", "swift-testing", "--filter", "crashWriter"]
        var environment = ProcessInfo.processInfo.environment
        environment[Self.writerVariable] = folder.path
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()

        // Read acknowledgements until 2 000 are in, then kill the writer mid-stream.
        var acknowledged: [String] = []
        var buffer = Data()
        let reader = output.fileHandleForReading
        while acknowledged.count < 2_000 {
            let chunk = reader.availableData
            guard !chunk.isEmpty else { break }
            buffer.append(chunk)
            acknowledged = Self.acknowledgements(in: buffer)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the writer was killed, not finished")
        // Whatever it printed before dying counts too (only complete lines).
        buffer.append(reader.readDataToEndOfFile())
        acknowledged = Self.acknowledgements(in: buffer)
        #expect(acknowledged.count >= 2_000)

        let store = try folder.open()
        let stored = Set(try await store.leaseAll(now: t0.addingTimeInterval(86_400)).map(\.event.id))
        let lost = acknowledged.filter { !stored.contains($0) }
        #expect(lost.isEmpty, "\(lost.count) acknowledged events were lost, e.g. \(lost.prefix(5))")
        #expect(store.pendingTotals.pending == stored.count)
        print("crash test: \(acknowledged.count) acknowledged before the kill, \(stored.count) stored")
    }

    /// The ids on complete `acked ID` lines.
    static func acknowledgements(in data: Data) -> [String] {
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()  // the last may be cut
        return lines.compactMap { $0.hasPrefix("acked ") ? String($0.dropFirst(6)) : nil }
    }

    /// The writer: 16 concurrent accepters, each printing an id as soon as its accept returned.
    /// Runs until killed (or a bound, so it never runs away).
    @Test("crashWriter", .enabled(if: ProcessInfo.processInfo.environment[writerVariable] != nil))
    func crashWriter() async throws {
        let path = try #require(ProcessInfo.processInfo.environment[Self.writerVariable])
        let store = try SQLiteEventStore(path: path)
        let printer = FileHandle.standardOutput
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<16 {
                group.addTask {
                    for index in 0..<20_000 {
                        let id = "w\(writer)-\(index)"
                        guard try await store.accept([newEvent(id)], now: t0) == .accepted else { return }
                        // One write per line, straight to the pipe: no buffer to lose in the kill.
                        printer.write(Data("acked \(id)\n".utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
