import GatehouseCore

/// The environment a function instance starts with: nothing of Gatehouse's own but what is named.
///
/// An operator's shell (tokens, cloud credentials, `GATEHOUSE_*` of their own) is not the
/// function's business. An instance gets, in this order, each later one winning:
/// 1. a short list of Gatehouse's variables a program needs to run at all (`passedThrough`);
/// 2. the variables `spec.process.inheritEnv` names, from Gatehouse's environment;
/// 3. the spec's own `env`;
/// 4. the runtime contract (`PORT`, `K_*`, `FUNCTION_*`) and the identity variables
///    (`GATEHOUSE_*`), which nothing above can override.
public enum FunctionEnvironment {
    /// Passed through when set: where programs are, language and time zone.
    public static let passedThrough = ["PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"]

    /// `HOME` is Gatehouse's own when the function runs as Gatehouse's user. A function under a
    /// user of its own gets that user's private home (and `TMPDIR` inside it): a shared one such as
    /// `/tmp` would let one function plant `~/.local` or `~/.npmrc` for another to run.
    public static func build(
        _ spec: FunctionSpec, inherited: [String: String], contract: [String: String], home: String?
    ) -> [String: String] {
        var environment: [String: String] = [:]
        for name in passedThrough { environment[name] = inherited[name] }
        environment["HOME"] = home ?? inherited["HOME"]
        if let home { environment["TMPDIR"] = home + "/tmp" }
        if environment["PATH"] == nil { environment["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        for name in spec.process.inheritEnv { environment[name] = inherited[name] }
        for variable in spec.process.env { environment[variable.name] = variable.value }
        for (name, value) in contract { environment[name] = value }
        if let home {
            environment["HOME"] = home  // not the spec's to move
        }
        return environment
    }

    /// The Knative runtime contract for one instance.
    static func contract(_ spec: FunctionSpec, port: Int) -> [String: String] {
        var contract = ["PORT": "\(port)", "K_SERVICE": spec.name, "K_REVISION": spec.revision, "K_CONFIGURATION": spec.name]
        if let target = spec.functionTarget { contract["FUNCTION_TARGET"] = target }
        if let signature = spec.signatureType { contract["FUNCTION_SIGNATURE_TYPE"] = signature }
        return contract
    }
}
