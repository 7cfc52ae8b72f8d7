import ArgumentParser

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print Gatehouse's version.")

    static let current = "0.1.0"

    func run() {
        print("gatehouse \(Self.current)")
    }
}
