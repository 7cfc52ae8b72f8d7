import ArgumentParser
import Foundation
import GatehouseStore

extension AuditCommand {
    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the newest signed checkpoint (JSON), to keep outside the state directory for verify --anchor.",
            discussion: """
                A writer of the state directory can cut off the end of the chain together with its newest
                checkpoints; a checkpoint kept elsewhere (a SIEM, write-once storage) shows it:
                  gatehouse audit checkpoint > /elsewhere/audit-anchor.json
                  gatehouse audit verify --anchor /elsewhere/audit-anchor.json --bundle /elsewhere/bundle.pem
                """)

        @OptionGroup var source: AuditSourceOptions

        func run() async throws {
            guard let checkpoint = try await source.latestCheckpoint(try source.open()) else {
                throw CommandFailure("the audit log has no checkpoint yet (Gatehouse signs one at every start)")
            }
            FileHandle.standardOutput.write(try AuditCoding.encoder.encode(checkpoint) + Data("\n".utf8))
        }
    }
}
