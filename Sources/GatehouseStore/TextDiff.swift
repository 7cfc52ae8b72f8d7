/// A line diff for the history: changed lines marked `-` / `+`, each run with one line of context.
public enum TextDiff {
    public static func lines(from old: String, to new: String) -> String {
        let before = lines(of: old), after = lines(of: new)
        let difference = after.difference(from: before)
        var removed = Set<Int>(), inserted = Set<Int>()
        for change in difference {
            switch change {
            case .remove(let offset, _, _): removed.insert(offset)
            case .insert(let offset, _, _): inserted.insert(offset)
            }
        }
        // Walk both texts in step: unchanged lines advance both, changes advance one.
        var marked: [(mark: Character, line: Substring)] = []
        var (i, j) = (0, 0)
        while i < before.count || j < after.count {
            if i < before.count, removed.contains(i) {
                marked.append(("-", before[i])); i += 1
            } else if j < after.count, inserted.contains(j) {
                marked.append(("+", after[j])); j += 1
            } else {
                if j < after.count { marked.append((" ", after[j])) }
                i += 1; j += 1
            }
        }
        let changed = marked.indices.filter { marked[$0].mark != " " }
        var keep = Set<Int>()
        for index in changed { keep.formUnion(max(0, index - 1)...min(marked.count - 1, index + 1)) }
        return keep.sorted().map { "\(marked[$0].mark) \(marked[$0].line)" }.joined(separator: "\n")
    }

    private static func lines(of text: String) -> [Substring] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }
}
