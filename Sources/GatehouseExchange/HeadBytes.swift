import NIOCore
import NIOHTTP1

/// Writes a message head into a buffer reserved for it up front: one capacity and one uniqueness
/// check for the whole head, where `writeString` pays both for every piece (about twenty per head).
/// The caller counts the bytes first (it validates every piece in the same pass); writing past the
/// count stops the process rather than overrun the buffer.
public struct HeadBytes {
    @usableFromInline var cursor: UnsafeMutableRawPointer
    @usableFromInline let start: UnsafeMutableRawPointer
    @usableFromInline let end: UnsafeMutableRawPointer

    @inlinable
    init(_ buffer: UnsafeMutableRawBufferPointer) {
        start = buffer.baseAddress!
        cursor = start
        end = start + buffer.count
    }

    @inlinable
    public var written: Int { cursor - start }

    @inlinable
    public mutating func append(_ string: String) {
        let copied: Void? = string.utf8.withContiguousStorageIfAvailable { bytes in
            append(UnsafeRawBufferPointer(bytes))
        }
        if copied == nil { Array(string.utf8).withUnsafeBytes { append($0) } }
    }

    @inlinable
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count <= end - cursor, "a message head longer than counted")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        cursor.copyMemory(from: base, byteCount: bytes.count)
        cursor += bytes.count
    }
}

extension HeadBytes {
    /// `Name: value` lines in order, and the blank line that ends the head.
    @inlinable
    public mutating func appendFields(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            append(name)
            append(": ")
            append(value)
            append("\r\n")
        }
        append("\r\n")
    }

    /// What `appendFields` writes, in bytes; throws naming the first field that may not be written
    /// (a name that is not a token, a value with a control character).
    public static func countFields(_ headers: HTTPHeaders) throws(InvalidHead) -> Int {
        var size = 2
        for (name, value) in headers {
            guard FieldSyntax.isToken(name) else { throw InvalidHead(part: "a header name") }
            guard FieldSyntax.isFieldValue(value) else { throw InvalidHead(part: "the value of \(name)") }
            size += name.utf8.count + value.utf8.count + 4
        }
        return size
    }
}

/// A part of a message head that is not valid HTTP/1.1, refused before anything was written.
public struct InvalidHead: Error, CustomStringConvertible {
    public let part: String
    public init(part: String) {
        self.part = part
    }
    public var description: String { "\(part) is not valid in an HTTP/1.1 message" }
}

/// The chunked coding's framing (RFC 9112 §7.1), for both writers.
public enum Chunks {
    public static let crlf = ByteBuffer(staticString: "\r\n")
    /// The last chunk, without trailers.
    public static let last = ByteBuffer(staticString: "0\r\n\r\n")

    /// What goes before a chunk of `size` bytes (never 0: an empty chunk ends the body).
    public static func sizeLine(_ size: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var line = allocator.buffer(capacity: 18)
        line.writeString(String(size, radix: 16))
        line.writeStaticString("\r\n")
        return line
    }
}

extension ByteBuffer {
    /// Appends exactly-counted head bytes (`count` is an upper bound; what was written is kept).
    @inlinable
    public mutating func writeHead(counted count: Int, _ write: (inout HeadBytes) -> Void) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            var head = HeadBytes(UnsafeMutableRawBufferPointer(rebasing: raw[..<count]))
            write(&head)
            return head.written
        }
    }
}
