import Foundation
import GatehouseCore
import NIOHTTP1
import Testing

@testable import GatehouseEvents

/// The CloudEvents HTTP binding as publishers use it: binary, structured and batched modes, and
/// the 400s a malformed event gets (naming what is wrong).
@Suite struct CloudEventDecoderTests {
    let decoder = CloudEventDecoder()

    func decode(_ headers: [(String, String)], _ body: String) -> Result<[CloudEvent], CloudEventFormatError> {
        decoder.decode(headers: HTTPHeaders(headers), body: Array(body.utf8))
    }

    @Test func binaryModeReadsCeHeadersAndKeepsTheBodyAsData() throws {
        let events = try decode(
            [("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/orders"), ("ce-type", "order.created"), ("CE-Subject", "a%20b"),
             ("ce-myext", "x"), ("content-type", "application/json")],
            #"{"n": 1.50}"#).get()
        #expect(events.count == 1)
        let event = events[0]
        #expect(event.id == "1" && event.source == "/orders" && event.type == "order.created")
        #expect(event.subject == "a b")
        #expect(event.extensions == ["myext": "x"])
        #expect(event.dataContentType == "application/json")
        #expect(event.data == Array(#"{"n": 1.50}"#.utf8))
    }

    @Test func structuredModeKeepsJSONDataAsWritten() throws {
        let body = #"{"specversion":"1.0","id":"7","source":"s","type":"t","count":3,"flag":true,"data":{"b": 1.50, "a": [1,2]}}"#
        let event = try decode([("content-type", "application/cloudevents+json; charset=utf-8")], body).get()[0]
        #expect(event.data == Array(#"{"b": 1.50, "a": [1,2]}"#.utf8))
        #expect(event.dataContentType == "application/json")
        #expect(event.extensions == ["count": "3", "flag": "true"])
    }

    @Test func structuredModeDecodesDataBase64AndTextData() throws {
        let binary = try decode([("content-type", "application/cloudevents+json")],
            #"{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"AAEC"}"#).get()[0]
        #expect(binary.data == [0, 1, 2])
        let text = try decode([("content-type", "application/cloudevents+json")],
            #"{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"text/plain","data":"hello"}"#).get()[0]
        #expect(text.data == Array("hello".utf8))
    }

    @Test func batchedModeReadsEveryEvent() throws {
        let body = #"[{"specversion":"1.0","id":"1","source":"s","type":"t","data":[1, 2]}, {"specversion":"1.0","id":"2","source":"s","type":"u"}]"#
        let events = try decode([("content-type", "application/cloudevents-batch+json")], body).get()
        #expect(events.map(\.id) == ["1", "2"])
        #expect(events[0].data == Array("[1, 2]".utf8))
        #expect(events[1].data == nil)
    }

    @Test(arguments: [
        ([("ce-specversion", "1.0"), ("ce-source", "s"), ("ce-type", "t")], "missing_attribute_id"),
        ([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-type", "t")], "missing_attribute_source"),
        ([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "s")], "missing_attribute_type"),
        ([("ce-specversion", "1.0"), ("ce-id", ""), ("ce-source", "s"), ("ce-type", "t")], "missing_attribute_id"),
        ([("ce-id", "1"), ("ce-source", "s"), ("ce-type", "t")], "missing_attribute_specversion"),
        ([("ce-specversion", "0.3"), ("ce-id", "1"), ("ce-source", "s"), ("ce-type", "t")], "unsupported_specversion"),
        ([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "s"), ("ce-type", "t"), ("ce-Bad_Name", "x")], "invalid_attribute_name"),
        ([("content-type", "application/json")], "missing_attribute_specversion"),
    ] as [([(String, String)], String)])
    func aMalformedBinaryEventIsRefusedNamingWhatIsWrong(headers: [(String, String)], reason: String) {
        guard case .failure(let error) = decode(headers, "") else {
            Issue.record("accepted \(headers)")
            return
        }
        #expect(error.reason == reason)
    }

    @Test func aStructuredEventWithoutTypeNamesIt() {
        guard case .failure(let error) = decode([("content-type", "application/cloudevents+json")], #"{"specversion":"1.0","id":"1","source":"s"}"#) else {
            Issue.record("accepted")
            return
        }
        #expect(error.reason == "missing_attribute_type")
    }

    @Test func hostileInputIsRefusedNotTrusted() {
        // Not JSON, a fraction attribute, both data forms, a control character, an oversized batch.
        for (headers, body) in [
            ([("content-type", "application/cloudevents+json")], "{not json"),
            ([("content-type", "application/cloudevents+json")], #"{"specversion":"1.0","id":"1","source":"s","type":"t","x":1.5}"#),
            ([("content-type", "application/cloudevents+json")], #"{"specversion":"1.0","id":"1","source":"s","type":"t","data":1,"data_base64":"AA=="}"#),
            ([("content-type", "application/cloudevents+json")], "{\"specversion\":\"1.0\",\"id\":\"1\\n\",\"source\":\"s\",\"type\":\"t\"}"),
            ([("content-type", "application/cloudevents-batch+json")], "[" + Array(repeating: #"{"specversion":"1.0","id":"1","source":"s","type":"t"}"#, count: 101).joined(separator: ",") + "]"),
            ([("content-type", "application/cloudevents+xml")], "<event/>"),
        ] as [([(String, String)], String)] {
            if case .success = decode(headers, body) { Issue.record("accepted \(body.prefix(60))") }
        }
    }

    @Test func binaryModeHeadersRoundTrip() throws {
        let event = CloudEvent(
            id: "id 1", source: "/s", type: "t", dataContentType: "text/plain", subject: "é\"%", extensions: ["traceparent": "00-abc"], data: Array("x".utf8))
        let headers = event.binaryModeHeaders
        #expect(headers.contains { $0.name == "ce-subject" && $0.value == "%C3%A9%22%25" })
        let back = try decoder.decode(headers: HTTPHeaders(headers), body: event.data!).get()[0]
        #expect(back == event)
    }
}
