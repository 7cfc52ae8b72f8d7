import NIOHTTP1

/// Header names compared as HTTP compares them (ASCII letters in any case), byte by byte, without
/// the lowercased copy of every name a `lowercased() ==` makes: the listener and the forwarder
/// look at every header of every request with it.
public enum HeaderName {
    /// `name` spells `lowercase` in any case.
    public static func `is`(_ name: String, _ lowercase: StaticString) -> Bool {
        name.utf8.count == lowercase.utf8CodeUnitCount && starts(name, with: lowercase)
    }

    /// `name` begins with `lowercase`, in any case.
    public static func starts(_ name: String, with lowercase: StaticString) -> Bool {
        var expected = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount).makeIterator()
        for byte in name.utf8 {
            guard let want = expected.next() else { return true }
            guard byte == want || (byte &+ 0x20 == want && byte >= 0x41 && byte <= 0x5A) else { return false }
        }
        return expected.next() == nil
    }
}
