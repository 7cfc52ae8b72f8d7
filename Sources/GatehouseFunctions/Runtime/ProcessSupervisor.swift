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
        defer { identities?.release(spec, instance: instance.id) }
        do {
            var environment = environment(for: instance)
            for (name, value) in try identities?.provision(spec, instance: instance.id) ?? [:] {
                environment[Environment.Key(stringLiteral: name)] = value
            }
            let result = try await Subprocess.run(
                executable(spec), arguments: Arguments(Array(spec.process.command.dropFirst()) + spec.process.args),
                environment: .inherit.updating(environment),
                workingDirectory: workingDirectory(spec).map { FilePath($0) }, platformOptions: options,
                input: .none, output: .sequence, error: .sequence
            ) { execution in
                let pid = execution.processIdentifier.value
                records.add(pid: pid, function: "\(spec.key)", command: spec.process.command)
                await supervise(execution, instance: instance, pool: pool, output: output, logger: logger)
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
        pool.instanceExited(instance, status: status)
    }

    private enum Finished: Sendable { case stream, probe, stop }

    private func supervise(
        _ execution: Execution<NoInput, SequenceOutput, SequenceOutput>, instance: FunctionInstance,
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
            group.addTask { [probeLoop] in
                if let address = try? SocketAddress(ipAddress: "127.0.0.1", port: instance.port),
                   (try? await ReadinessProbe.waitUntilAccepting(address, on: probeLoop)) != nil {
                    pool.instanceReady(instance)
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
                    try? execution.send(signal: .terminate, toProcessGroup: true)
                    try? await Task.sleep(for: grace)
                    try? execution.send(signal: .kill, toProcessGroup: true)
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

    /// The Knative runtime contract, then the function's own variables (which may override nothing of ours).
    private func environment(for instance: FunctionInstance) -> [Environment.Key: String?] {
        let spec = instance.spec
        var environment: [Environment.Key: String?] = [:]
        for variable in spec.process.env { environment[Environment.Key(stringLiteral: variable.name)] = variable.value }
        environment["PORT"] = "\(instance.port)"
        environment["K_SERVICE"] = spec.name
        environment["K_REVISION"] = spec.revision
        environment["K_CONFIGURATION"] = spec.name
        if let target = spec.functionTarget { environment["FUNCTION_TARGET"] = target }
        if let signature = spec.signatureType { environment["FUNCTION_SIGNATURE_TYPE"] = signature }
        return environment
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
