/// Splits a byte stream into lines, cutting any line at `maxLength` so one chatty process
/// cannot make Gatehouse buffer without bound.
struct LineSplitter {
    let maxLength: Int
    private var pending: [UInt8] = []

    init(maxLength: Int) {
        self.maxLength = maxLength
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, emit: (String) -> Void) {
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                flushLine(emit)
            } else if pending.count < maxLength {
                pending.append(byte)
            }
        }
    }

    mutating func finish(emit: (String) -> Void) {
        if !pending.isEmpty { flushLine(emit) }
    }

    private mutating func flushLine(_ emit: (String) -> Void) {
        if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
        emit(String(decoding: pending, as: UTF8.self))
        pending.removeAll(keepingCapacity: true)
    }
}
