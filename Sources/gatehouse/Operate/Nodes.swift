import ArgumentParser
import Foundation
import GatehouseGateway

/// `gatehouse nodes`: the nodes of a mesh that shares a PostgreSQL store.
struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes", abstract: "Nodes of a mesh on a shared PostgreSQL store.", subcommands: [TokenCommand.self])

    struct TokenCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "token", abstract: "Join tokens for new nodes.", subcommands: [Create.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print a join token: a new node started with it (`up --join-token-file`) gets its own intermediate of the mesh's CA.",
                discussion: """
                    The token is printed once, on standard output, and works once, within --lifetime; the store
                    keeps only its hash. A node that holds the mesh's root answers the new node's request.
                      gatehouse nodes token create > join-token && chmod 600 join-token
                      gatehouse up --store postgres://… --join-token-file join-token   # on the new node
                    """)

            @Option(help: "How long the token may be used (a duration such as 10m; at most 24h).")
            var lifetime: String = "1h"

            @OptionGroup var connection: AdminConnectionOptions

            func run() async throws {
                let created = try await connection.connect().post(
                    "/api/v1/nodes/join-tokens", AdminWire.JoinTokenRequest(lifetime: lifetime), as: AdminWire.JoinToken.self)
                print(created.token)
                FileHandle.standardError.write(Data("valid once, until \(created.expiresAt.formatted(.iso8601))\n".utf8))
            }
        }
    }
}
