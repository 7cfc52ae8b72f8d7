import Foundation

extension Duration {
    /// In seconds, as Foundation's `Date` arithmetic wants.
    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
