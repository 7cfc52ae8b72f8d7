import NIOCore

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
    public mutating func append(_ literal: StaticString) {
        append(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    @inlinable
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count <= end - cursor, "a message head longer than counted")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        cursor.copyMemory(from: base, byteCount: bytes.count)
        cursor += bytes.count
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
