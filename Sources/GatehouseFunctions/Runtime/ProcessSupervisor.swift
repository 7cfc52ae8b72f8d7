import Foundation
import GatehouseCore
import Logging
import NIOCore
import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Runs one instance's process from spawn to exit: the Knative runtime contract in, readiness
/// out, output captured, and the whole process group ended when it is done.
struct ProcessSupervisor: Sendable {
    let records: InstanceRecords
    let probeLoop: any EventLoop
    let identities: (any InstanceIdentities)?
    let sandbox: FunctionSandbox?
    let logger: Logger

    func run(_ instance: FunctionInstance, pool: FunctionPool, output: OutputLog) async {
        let spec = instance.spec
        var logger = logger
        logger[metadataKey: "function"] = "\(spec.key)"
        logger[metadataKey: "instance"] = "\(instance.id)"
        var options = PlatformOptions()
        options.processGroupID = 0  // its own group, so a stop reaches every process it started
        var leader: pid_t?
        var status: String
        var user: FunctionUser?
        defer { identities?.release(spec, instance: instance.id) }
        do {
            user = try sandbox?.user(for: spec)
            try await sandbox?.admit(port: instance.port, user: user)
            var contract = FunctionEnvironment.contract(spec, port: instance.port)
            for (name, value) in try identities?.provision(spec, instance: instance.id, owner: user) ?? [:] { contract[name] = value }
            let home = try user.map { try sandbox?.home(for: $0) } ?? nil
            let environment = FunctionEnvironment.build(
                spec, inherited: ProcessInfo.processInfo.environment, contract: contract, home: home)
            let (program, arguments) = try launch(spec, as: user, path: environment["PATH"] ?? "")
            if let user {
                // The forked child drops to the user before it execs (so the spec's environment,
                // `LD_PRELOAD` included, only ever meets the function's own user) and starts a
                // session of its own: its pid is its process group, as with `processGroupID` (which
                // swift-subprocess ignores on this path).
                options.processGroupID = nil
                options.createSession = true
                options.userID = user.uid
                options.groupID = user.gid
                options.supplementaryGroups = []
            }
            let result = try await Subprocess.run(
                program, arguments: Arguments(arguments),
                environment: .custom(Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), $0.value) })),
                workingDirectory: workingDirectory(spec).map { FilePath($0) }, platformOptions: options,
                input: .none, output: .sequence, error: .sequence
            ) { [user] execution in
                let pid = execution.processIdentifier.value
                records.add(pid: pid, function: "\(spec.key)", command: spec.process.command)
                await supervise(execution, instance: instance, user: user, pool: pool, output: output, logger: logger)
                return pid
            }
            leader = result.closureResult
            status = Self.describe(result.terminationStatus)
        } catch {
            status = "could not start \(spec.process.command.first ?? ""): \(error)"
            instance.rememberStderr(status)
        }
        if let leader {
            kill(-leader, SIGKILL)  // anything the process left running in its group
            records.remove(pid: leader)
        }
        await sandbox?.withdraw(port: instance.port, user: user)
        pool.instanceExited(instance, status: status)
    }

    private enum Finished: Sendable { case stream, probe, stop }

    private func supervise(
        _ execution: Execution<NoInput, SequenceOutput, SequenceOutput>, instance: FunctionInstance, user: FunctionUser?,
        pool: FunctionPool, output: OutputLog, logger: Logger
    ) async {
        await withTaskGroup(of: Finished.self) { group in
            group.addTask {
                await Self.capture(execution.standardOutput, .stdout, instance: instance, output: output, logger: logger)
                return .stream
            }
            group.addTask {
                await Self.capture(execution.standardError, .stderr, instance: instance, output: output, logger: logger)
                return .stream
            }
            group.addTask { [probeLoop, sandbox] in
                if let address = try? SocketAddress(ipAddress: "127.0.0.1", port: instance.port),
                   (try? await ReadinessProbe.waitUntilAccepting(address, on: probeLoop)) != nil {
                    if let others = sandbox?.foreignListeners(port: instance.port, user: user) {
                        // Another user's process bound the port first: never send it requests.
                        instance.rememberStderr("port \(instance.port) is held by another user's process (uids \(others)), not the function's")
                        try? execution.send(signal: .kill, toProcessGroup: true)
                        try? execution.send(signal: .kill, toProcessGroup: false)
                    } else {
                        pool.instanceReady(instance)
                    }
                }
                return .probe
            }
            if let identities {
                group.addTask {
                    await identities.maintain(instance.spec, instance: instance.id)
                    return .stop
                }
            }
            group.addTask {
                for await grace in instance.stopRequests {
                    // The process itself too, not only its group: a child still between fork and
                    // exec has no group of its own yet. (One can stay there for good: swift-subprocess
                    // drops to the function's user with glibc's setgroups/setuid in a child made by a
                    // raw clone, and glibc's set-ID lock, held by another thread at the clone, is
                    // never released in it. The startup timeout then stops it here.)
                    try? execution.send(signal: .terminate, toProcessGroup: true)
                    try? execution.send(signal: .terminate, toProcessGroup: false)
                    try? await Task.sleep(for: grace)
                    try? execution.send(signal: .kill, toProcessGroup: true)
                    try? execution.send(signal: .kill, toProcessGroup: false)
                    break
                }
                return .stop
            }
            // Both output streams end when the process exits; then nothing else is needed.
            var streamsOpen = 2
            while streamsOpen > 0, let finished = await group.next() {
                if finished == .stream { streamsOpen -= 1 }
            }
            group.cancelAll()
        }
    }

    private static func capture(
        _ stream: SubprocessOutputSequence, _ kind: OutputLog.Stream, instance: FunctionInstance, output: OutputLog,
        logger: Logger
    ) async {
        var splitter = LineSplitter(maxLength: OutputLog.maxLineLength)
        let emit: (String) -> Void = { line in
            output.append(line, stream: kind, instance: instance.id, revision: instance.spec.revision)
            if kind == .stderr { instance.rememberStderr(line) }
            logger.debug("\(line)", metadata: ["stream": "\(kind.rawValue)"])
        }
        do {
            for try await buffer in stream {
                buffer.withUnsafeBytes { splitter.feed($0, emit: emit) }
            }
        } catch {
            // The stream ends with an error when the process exits while a read is pending.
        }
        splitter.finish(emit: emit)
    }

    private func executable(_ spec: FunctionSpec) -> Executable {
        let command = spec.process.command.first ?? ""
        return command.contains("/") ? .path(FilePath(resolve(command, in: workingDirectory(spec)))) : .name(command)
    }

    /// The program to start and its arguments. Under a user of its own, the command is found as
    /// that user would find it and run through util-linux's `setpriv --no-new-privs` (already as the
    /// user: setuid programs cannot raise it again), which execs it in the same pid.
    private func launch(_ spec: FunctionSpec, as user: FunctionUser?, path: String) throws -> (Executable, [String]) {
        let arguments = Array(spec.process.command.dropFirst()) + spec.process.args
        guard let user else { return (executable(spec), arguments) }
        if let directory = workingDirectory(spec), !ExecutableLookup.canEnter(directory, by: user) {
            throw SandboxFailure(description: "the function runs as \(user) and cannot enter its working directory \(directory): "
                + "make it and the folders above it searchable by others (chmod o+x), or move the function")
        }
        let command = spec.process.command.first ?? ""
        let program: String
        if command.contains("/") {
            program = resolve(command, in: workingDirectory(spec))
        } else if let found = ExecutableLookup.find(command, path: path, for: user) {
            program = found
        } else {
            throw SandboxFailure(description: "no \(command) in PATH that \(user) may run (directories only root can search are skipped)")
        }
        guard let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: { ExecutableLookup.isExecutable($0, by: user) }) else {
            throw SandboxFailure(description: "util-linux's setpriv is not in /usr/bin (Debian: apt-get install util-linux)")
        }
        return (.path(FilePath(setpriv)), ["--no-new-privs", "--", program] + arguments)
    }

    /// `workingDir`, relative to the YAML file that declared the function; that file's directory by default.
    func workingDirectory(_ spec: FunctionSpec) -> String? {
        let base = spec.source.map { URL(fileURLWithPath: $0.file).deletingLastPathComponent().path }
        guard let directory = spec.process.workingDir else { return base }
        return resolve(directory, in: base)
    }

    private func resolve(_ path: String, in base: String?) -> String {
        guard !path.hasPrefix("/"), let base else { return path }
        return URL(fileURLWithPath: base).appendingPathComponent(path).standardizedFileURL.path
    }

    static func describe(_ status: TerminationStatus) -> String {
        switch status {
        case .exited(let code): return "exit code \(code)"
        case .signaled(let signal): return "killed by signal \(signal)"
        }
    }
}
