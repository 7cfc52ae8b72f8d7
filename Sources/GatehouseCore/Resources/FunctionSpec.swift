/// A `gatehouse.dev/v1` `Function`: what runs, how it scales and how long it may take.
///
/// Defaults follow Cloud Run and Knative: scale to zero, 80 concurrent requests per instance,
/// a 300 s request timeout. Values are validated when decoded (see `GatehouseConfig`).
public struct FunctionSpec: Hashable, Sendable {
    public var name: String
    public var namespace: String
    public var labels: [String: String]
    /// Which kind of workload serves the function: what the runtime starts, or calls.
    public var workload: Workload
    public var serviceAccount: String
    public var scaling: Scaling
    /// The most a request may take end to end, queueing and cold start included (504 past it).
    public var timeout: Duration
    /// How long an instance may sit without requests before it is stopped (down to `minInstances`).
    public var idleTimeout: Duration
    /// How long a new instance has to accept connections on `$PORT` before it counts as failed.
    public var startupTimeout: Duration
    public var functionTarget: String?
    public var signatureType: String?
    public var source: SourceLocation?
    /// A DestinationRule's `http.maxRequestsPerConnection`: kept-alive connections to an instance
    /// are closed after this many requests.
    public var maxRequestsPerConnection: Int?
    /// A DestinationRule's `outlierDetection` for this function's instances (or remote endpoint).
    public var outlierDetection: OutlierDetection?
    /// Knative's `spec.traffic`: how requests split among this function's revisions. Empty: all
    /// to the latest. Not part of a revision: changing it creates none.
    public var traffic: [TrafficTarget] = []
    /// Counts changes to what runs (the revision number), from 1; set from the store when applied.
    public var generation: Int = 1

    public init(
        name: String,
        namespace: String = FunctionSpec.defaultNamespace,
        labels: [String: String] = [:],
        process: ProcessSpec,
        serviceAccount: String = "default",
        scaling: Scaling = Scaling(),
        timeout: Duration = .seconds(300),
        idleTimeout: Duration = .seconds(60),
        startupTimeout: Duration = .seconds(30),
        functionTarget: String? = nil,
        signatureType: String? = nil,
        source: SourceLocation? = nil,
        remote: RemoteEndpoint? = nil
    ) {
        workload = remote.map(Workload.remote) ?? .process(process)
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.serviceAccount = serviceAccount
        self.scaling = scaling
        self.timeout = timeout
        self.idleTimeout = idleTimeout
        self.startupTimeout = startupTimeout
        self.functionTarget = functionTarget
        self.signatureType = signatureType
        self.source = source
    }

    public static let defaultNamespace = "default"

    /// What serves a function. (WebAssembly modules come next.)
    public enum Workload: Hashable, Sendable {
        /// A local process serving HTTP on `$PORT`, started and scaled by Gatehouse (`spec.process`).
        case process(ProcessSpec)
        /// An existing HTTP(S) endpoint called instead (`spec.remote.url`): nothing is started.
        case remote(RemoteEndpoint)
        /// Built in: a Broker's ingress (`FunctionSpec.brokerIngress`). Not a function anyone
        /// declares: the workload policies see when events are published to that Broker.
        case broker(namespace: String, name: String)
    }

    /// The process a `.process` workload runs; an empty one for other workloads.
    public var process: ProcessSpec {
        get { if case .process(let process) = workload { process } else { ProcessSpec(command: []) } }
        set { workload = .process(newValue) }
    }

    /// The endpoint of a `.remote` workload; nil for other workloads.
    public var remote: RemoteEndpoint? {
        get { if case .remote(let endpoint) = workload { endpoint } else { nil } }
        set { workload = newValue.map(Workload.remote) ?? .process(process) }
    }

    /// Whether Gatehouse runs the workload itself (it has instances and a pool).
    public var runsLocally: Bool {
        if case .process = workload { true } else { false }
    }

    public var key: FunctionKey { FunctionKey(namespace: namespace, name: name) }

    /// Knative's revision name: `NAME-00001` for the first spec, one more for every change.
    public var revision: String { Self.revisionName(name, number: generation) }

    public var revisionKey: RevisionKey { RevisionKey(function: key, number: generation) }

    /// This spec as revision `number`.
    public func atGeneration(_ number: Int) -> FunctionSpec {
        var spec = self
        spec.generation = number
        return spec
    }

    public static func revisionName(_ name: String, number: Int) -> String {
        let digits = String(number)
        return "\(name)-\(String(repeating: "0", count: max(0, 5 - digits.count)))\(digits)"
    }

    /// The labels a revision's instances carry, as Knative's pods do: the function's own plus
    /// `serving.knative.dev/service` and `serving.knative.dev/revision` (what DestinationRule
    /// subsets select on).
    public var revisionLabels: [String: String] {
        labels.merging(["serving.knative.dev/service": name, "serving.knative.dev/revision": revision]) { _, knative in knative }
    }

    /// Whether an instance started for `other` runs exactly like one started for this spec:
    /// everything but the file name it was read from, its generation counter and its traffic.
    /// The file's directory does count: relative commands and `workingDir` resolve from it.
    public func runsLike(_ other: FunctionSpec) -> Bool {
        guard source?.directory == other.source?.directory else { return false }
        var (lhs, rhs) = (self, other)
        (lhs.source, rhs.source, lhs.generation, rhs.generation, lhs.traffic, rhs.traffic) = (nil, nil, 0, 0, [], [])
        return lhs == rhs
    }

    /// The service name Istio reports in `destination_service`.
    public var serviceHost: String { "\(name).\(namespace).svc.cluster.local" }

    /// A command to run, the Knative / Cloud Run container contract: serve HTTP on `$PORT`.
    public struct ProcessSpec: Hashable, Sendable {
        public var command: [String]
        public var args: [String]
        public var env: [EnvVar]
        public var workingDir: String?
        /// Variables of Gatehouse's own environment passed through by name (`inheritEnv`); nothing
        /// else of it reaches the function (see `FunctionEnvironment`).
        public var inheritEnv: [String]
        /// The uid and gid the process runs as when Gatehouse runs as root (Kubernetes'
        /// `securityContext` names); nil: one of the Mesh's `functionUsers`, the function's own.
        public var runAsUser: Int?
        public var runAsGroup: Int?
        /// What the process speaks on `$PORT` (`protocol:`; Knative's port named `h2c`).
        public var `protocol`: UpstreamProtocol = .http1

        public init(
            command: [String], args: [String] = [], env: [EnvVar] = [], workingDir: String? = nil, inheritEnv: [String] = [],
            runAsUser: Int? = nil, runAsGroup: Int? = nil, protocol: UpstreamProtocol = .http1
        ) {
            self.protocol = `protocol`
            self.command = command
            self.args = args
            self.env = env
            self.workingDir = workingDir
            self.inheritEnv = inheritEnv
            self.runAsUser = runAsUser
            self.runAsGroup = runAsGroup
        }
    }

    /// How Gatehouse talks to a function process.
    public enum UpstreamProtocol: String, Hashable, Sendable, CaseIterable {
        /// HTTP/1.1 on kept-alive connections, one request at a time each.
        case http1
        /// HTTP/2 without TLS (prior knowledge): requests multiplexed as streams on one
        /// connection per event loop; what a gRPC server speaks.
        case h2c
    }

    public struct EnvVar: Hashable, Sendable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public struct Scaling: Hashable, Sendable {
        /// Instances kept warm even when idle.
        public var minInstances: Int
        /// The most instances that may run at once.
        public var maxInstances: Int
        /// Requests one instance serves at once, a hard limit (Cloud Run's `containerConcurrency`).
        public var concurrency: Int
        /// Requests that may wait for a free instance; past it, 503 with `Retry-After`.
        public var maxQueue: Int

        public init(minInstances: Int = 0, maxInstances: Int = 10, concurrency: Int = 80, maxQueue: Int = 100) {
            self.minInstances = minInstances
            self.maxInstances = maxInstances
            self.concurrency = concurrency
            self.maxQueue = maxQueue
        }
    }
}

/// A function's identity within one Gatehouse: namespace and name.
public struct FunctionKey: Hashable, Sendable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(namespace)/\(name)" }
}

extension FunctionSpec {
    /// A process that speaks h2c: its requests (and a node's hops to it) are HTTP/2 streams.
    public var speaksHTTP2: Bool {
        if case .process(let process) = workload { return process.protocol == .h2c }
        return false
    }
}
