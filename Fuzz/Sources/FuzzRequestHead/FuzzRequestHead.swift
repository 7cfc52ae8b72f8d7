import GatehouseCore
@testable import GatehouseListener
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// libFuzzer entry: one input is the bytes a client sends on one connection. They go through NIO's
/// HTTP/1 decoder (llhttp) in an `EmbeddedChannel`, and every request head it yields takes the
/// listener's path: absolute-form → origin-form, `RequestHeadCheck`, path normalization, routing
/// (see `HeadInvariants`). A crash or a failed `precondition` is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestHead(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let heads = decodeHeads(bytes, splitAt: nil)
    // The same bytes in two reads must parse to the same heads: a client controls where TCP splits.
    if size > 1 {
        let split = decodeHeads(bytes, splitAt: size / 2 + Int(bytes[0]) % (size / 2))
        precondition(split == heads, "heads differ when the bytes arrive in two reads: \(heads) vs \(split)")
    }
    for head in heads { HeadInvariants.check(head) }
    return 0
}

/// The request heads NIO's server-side decoder yields for `bytes` (up to its first parse error).
private func decodeHeads(_ bytes: UnsafeRawBufferPointer, splitAt split: Int?) -> [HTTPRequestHead] {
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish() }
    try! channel.pipeline.syncOperations.addHandler(
        ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
    let reads = split.map { [bytes[..<$0], bytes[$0...]] } ?? [bytes[...]]
    var heads: [HTTPRequestHead] = []
    for read in reads {
        do {
            try channel.writeInbound(channel.allocator.buffer(bytes: read))
        } catch {
            heads += drain(channel)
            return heads  // the listener answers 400 and closes: nothing after an error is read
        }
        heads += drain(channel)
    }
    return heads
}

private func drain(_ channel: EmbeddedChannel) -> [HTTPRequestHead] {
    var heads: [HTTPRequestHead] = []
    while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
        if case .head(let head) = part { heads.append(head) }
    }
    return heads
}
