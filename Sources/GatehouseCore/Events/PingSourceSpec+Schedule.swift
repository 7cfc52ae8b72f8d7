import Foundation

extension PingSourceSpec {
    /// Largest `data` (or decoded `dataBase64`) accepted, in bytes. Knative sets no limit by
    /// default (`config-ping-defaults` `data-max-size: -1`); every event Gatehouse accepts is
    /// stored, so a schedule may not write more than this each minute.
    public static let maxDataBytes = 64 * 1024

    /// The `type` of the events a PingSource sends, as Knative's.
    public static let eventType = "dev.knative.sources.ping"

    /// The schedule, parsed (nil only for a spec not read from configuration, which checks it).
    public var cronSchedule: CronSchedule? { try? CronSchedule(parsing: schedule) }

    /// The zone the schedule is read in: `timezone`, else UTC (Knative's default).
    public var timeZone: TimeZone {
        timezone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!
    }

    /// The first minute after `date` this source fires.
    public func nextFire(after date: Date) -> Date? {
        cronSchedule?.nextFire(after: date, in: timeZone)
    }
}
