/// Where a browser goes after logging in: only a path on the same host. Anything that a browser
/// could read as another origin — `//evil`, `/\evil`, a scheme, control characters — is refused,
/// and `/` is used instead (no open redirect, CWE-601).
public enum ReturnPath {
    public static func validated(_ candidate: String?) -> String {
        guard let candidate, isSameHostPath(candidate) else { return "/" }
        return candidate
    }

    public static func isSameHostPath(_ candidate: String) -> Bool {
        let bytes = Array(candidate.utf8)
        guard bytes.first == UInt8(ascii: "/"), bytes.count <= 2048 else { return false }
        if bytes.count > 1, bytes[1] == UInt8(ascii: "/") || bytes[1] == UInt8(ascii: "\\") { return false }
        // Control characters and spaces (browsers strip tabs and newlines: `/\t/evil` is `//evil`), and backslashes anywhere.
        return !bytes.contains { $0 < 0x21 || $0 == 0x7F || $0 == UInt8(ascii: "\\") }
    }
}
