import GatehouseCore

/// Gives each function instance its own workload identity — files it can present, named in its
/// environment — and keeps them fresh while it runs. Implemented by the gateway (it holds the CA).
public protocol InstanceIdentities: Sendable {
    /// Writes the instance's identity, readable by `owner` alone (Gatehouse's user when nil);
    /// returns the environment variables that name it. Called before the process starts; a
    /// failure keeps the instance from starting.
    func provision(_ spec: FunctionSpec, instance: Int, owner: FunctionUser?) throws -> [String: String]
    /// Renews the identity before it expires; runs beside the process and ends when cancelled.
    func maintain(_ spec: FunctionSpec, instance: Int) async
    /// Removes what `provision` wrote, once the process has exited.
    func release(_ spec: FunctionSpec, instance: Int)
}
