/// CESQL's `LIKE`: `%` matches any run of characters, `_` exactly one, `\%` and `\_` the
/// character itself; everything else (a backslash before another character too) matches itself,
/// case-sensitively.
enum CESQLLikePattern {
    private enum Element: Equatable {
        case any
        case one
        case literal(Unicode.Scalar)
    }

    static func matches(_ text: String, pattern: String) -> Bool {
        let elements = compile(pattern)
        let scalars = Array(text.unicodeScalars)
        // Greedy match with one backtrack point (the last `%`): linear in practice, and at worst
        // text × pattern, both bounded by the expression and attribute sizes.
        var t = 0, p = 0
        var star: Int?
        var starText = 0
        while t < scalars.count {
            if p < elements.count, elements[p] == .one || elements[p] == .literal(scalars[t]) {
                t += 1
                p += 1
            } else if p < elements.count, elements[p] == .any {
                star = p
                starText = t
                p += 1
            } else if let star {
                p = star + 1
                starText += 1
                t = starText
            } else {
                return false
            }
        }
        while p < elements.count, elements[p] == .any { p += 1 }
        return p == elements.count
    }

    private static func compile(_ pattern: String) -> [Element] {
        let scalars = Array(pattern.unicodeScalars)
        var elements: [Element] = []
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\\", index + 1 < scalars.count, scalars[index + 1] == "%" || scalars[index + 1] == "_" {
                elements.append(.literal(scalars[index + 1]))
                index += 2
                continue
            }
            elements.append(scalar == "%" ? .any : scalar == "_" ? .one : .literal(scalar))
            index += 1
        }
        return elements
    }
}
