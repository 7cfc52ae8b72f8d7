/// A command that could not do its work: printed as `Error: …` without the usage text, exit status 1.
/// (`ValidationError` is for arguments that are wrong; ArgumentParser shows the usage with it.)
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
