import Foundation
import GatehouseCore
import Prometheus
import Testing

@testable import GatehouseTelemetry

@Suite("The access log writer")
struct AccessLogTests {
    static func temporaryFile() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("access-\(UUID().uuidString).log").path
    }

    @Test("Records become lines in the order their requests finished, written off the request path")
    func linesInOrder() async throws {
        let path = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try AccessLog(destination: .file(path), registry: PrometheusCollectorRegistry(), flushInterval: .seconds(3600))
        for index in 1...3 {
            var record = finishedRequest(to: FunctionDestination(spec: helloSpec), code: 200)
            record.requestId = "req-\(index)"
            log.append(record)
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8).isEmpty, "nothing is written on append")
        await log.flush()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.map { $0.contains("\"request_id\":\"req-") } == [true, true, true])
        #expect(zip(lines, 1...3).allSatisfy { line, index in line.contains("\"request_id\":\"req-\(index)\"") })
        #expect(lines.first.map { String($0) + "\n" } == AccessLogLine.text(finishedRequest(to: FunctionDestination(spec: helloSpec), code: 200), requestId: "req-1"))
    }

    @Test("Past its bound, records are dropped and counted in gatehouse_access_log_dropped_total")
    func dropsCounted() async throws {
        let path = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let registry = PrometheusCollectorRegistry()
        let log = try AccessLog(destination: .file(path), registry: registry, flushInterval: .seconds(3600))
        let record = finishedRequest(to: nil, code: 404)
        let fits = AccessLog.maxBufferedBytes / AccessLogLine.estimatedBytes(record)
        for _ in 0..<(fits + 5) { log.append(record) }
        let exposition = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        #expect(exposition.contains("gatehouse_access_log_dropped_total 5"), "\(exposition)")
        await log.flush()
        #expect(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count == fits)
    }

    @Test("The estimate used for the byte bound is close to the line's real length")
    func estimate() {
        var record = finishedRequest(to: FunctionDestination(spec: helloSpec), code: 200)
        record.userAgent = "curl/8.5.0"
        record.path = RequestPath("/some/longer/path?with=query&and=more")
        var bytes: [UInt8] = []
        AccessLogLine.format(record, into: &bytes)
        let estimated = AccessLogLine.estimatedBytes(record)
        #expect(Double(estimated) > Double(bytes.count) * 0.6 && Double(estimated) < Double(bytes.count) * 1.6, "\(estimated) vs \(bytes.count)")
    }
}

extension AccessLogLine {
    /// The line for `record` with `requestId`, as text.
    static func text(_ record: RequestRecord, requestId: String) -> String {
        var record = record
        record.requestId = requestId
        var bytes: [UInt8] = []
        format(record, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
