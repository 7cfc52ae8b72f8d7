import ArgumentParser

@main
struct GatehouseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse",
        abstract: "Run serverless functions behind a zero-trust gateway, in one binary.",
        discussion: """
            Start with the quickstart:  gatehouse up -f examples/quickstart
            then call the function:      curl -H 'Host: hello.default.localhost' http://127.0.0.1:8080/
            """,
        subcommands: [
            Up.self, Apply.self, Get.self, Describe.self, Logs.self, Delete.self, History.self, Explain.self,
            PolicyTest.self, Invoke.self, EventsCommand.self, CallsCommand.self, Trace.self, CA.self, AuditCommand.self,
            NodesCommand.self, Validate.self, Version.self,
        ])
}
