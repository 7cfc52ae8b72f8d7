import Foundation

/// What a program run by `runWithInput` printed, and how it ended.
public struct ProcessOutput: Sendable {
    public let status: Int32
    public let output: String
    public let errors: String
}

/// Runs `executable` with `arguments`, writes `input` to its standard input, and waits for it to end.
/// With `mergingErrors`, its standard error goes to `output` too. (The error output is read after
/// the standard output ends: fine for the few lines of a failing command.)
public func runWithInput(_ executable: String, _ arguments: [String], input: String, mergingErrors: Bool = false) throws -> ProcessOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = mergingErrors ? stdout : stderr
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let errors = mergingErrors ? "" : String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return ProcessOutput(status: process.terminationStatus, output: output, errors: errors)
}
