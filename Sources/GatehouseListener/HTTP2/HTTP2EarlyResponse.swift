import NIOCore
import NIOHTTP2

/// An HTTP/2 stream answered before its request body was all read (a refusal, a function that did
/// not read the body): after the response's END_STREAM, RST_STREAM NO_ERROR asks the client to stop
/// sending without calling the response an error (RFC 9113 §8.1). Closing the stream channel
/// would send CANCEL, which curl, for one, does not take as the end of the exchange.
enum HTTP2EarlyResponse {
    static func stopRequestBody(on channel: any Channel) {
        // Written from the codec's place, so the frame goes straight to the stream.
        guard let codec = try? channel.pipeline.syncOperations.context(handlerType: HTTP2FramePayloadToHTTP1ServerCodec.self) else {
            channel.close(promise: nil)
            return
        }
        codec.writeAndFlush(NIOAny(HTTP2Frame.FramePayload.rstStream(.noError)), promise: nil)
    }
}
