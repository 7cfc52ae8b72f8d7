import ArgumentParser
import Foundation
import GatehouseAuthentication
import GatehouseOutbound
import GatehouseGateway
import Logging
import Yams

struct PolicyTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run table-driven request cases against a config: expected status, decision, deciding policy, function and route.",
        discussion: """
            A test file:
              config: [../config]            # files or directories, relative to this file (or give -f)
              cases:
              - name: only billing may call invoices
                request: {method: POST, host: invoices.default.localhost, path: /pay, headers: {x-team: ops}}
                expect: {status: 403, decision: deny, policy: default/billing-only}
            Each case runs through the gateway's own stages, as `gatehouse explain` does. `status` is what the caller
            gets (404 no function, 401 token refused, 403 denied, 429 rate limited, 508 hop limit, a route's redirect
            or direct response) or 200 (let through to the function). `decision`, `policy`, `function`, `route` and
            `stage` (the stage that ends the request, or `none`) are optional. A request says how it arrives with
            `via: ingress | mesh | gateway NAME` (or `port`), and may carry `sourcePrincipal`, `claims: {iss: …, sub: …}`
            (taken as verified) or a `jwt:` (verified against the config's RequestAuthentications). Rate limits are
            evaluated without spending tokens. Exits 1 when a case fails, printing what was expected, what happened and why.
            """)

    @Argument(help: "Test files (YAML).")
    var files: [String]

    @Option(name: [.customShort("f"), .customLong("filename")], help: "Config to test against, instead of each file's `config`.")
    var paths: [String] = []

    struct TestFile: Decodable {
        var config: [String]?
        var cases: [Case]
    }

    struct Case: Decodable {
        var name: String
        var request: ExplainRequest
        var expect: Expectation
    }

    struct Expectation: Decodable {
        var status: Int
        var decision: String?
        var policy: String?
        /// The function the request reaches (`NAMESPACE/NAME`; the heaviest destination of a split).
        var function: String?
        /// The VirtualService route it takes (its name, or `NAMESPACE/VS.INDEX`).
        var route: String?
        /// The stage that ends the request (`route`, `peer_authentication`, `jwt`, …), or `none`
        /// when it reaches the function.
        var stage: String?
    }

    func run() async throws {
        let (passed, failed) = try await withControlPlaneClient { client in try await runCases(client: client) }
        print("\(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }

    private func runCases(client: ControlPlaneClient) async throws -> (passed: Int, failed: Int) {
        var passed = 0, failed = 0
        for file in files {
            let testFile = try Self.read(file)
            let directory = URL(fileURLWithPath: file).deletingLastPathComponent()
            let config = paths.isEmpty
                ? (testFile.config ?? []).map { $0.hasPrefix("/") ? $0 : directory.appendingPathComponent($0).path } : paths
            guard !config.isEmpty else { throw CommandFailure("\(file): say which config to test, with `config:` or -f") }
            let explainer = RequestExplainer(snapshot: try loadConfig(config, doing: "no case was run"), keys: KeyDirectory(client: client, prefetch: false, logger: quietLogger))
            for testCase in testFile.cases {
                let result: Explanation
                do {
                    result = try await explainer.explain(testCase.request)
                } catch {
                    failed += 1
                    print("FAIL  \(testCase.name)  (\(file))\n      \(error)")
                    continue
                }
                let problems = Self.differences(testCase.expect, result)
                if problems.isEmpty {
                    passed += 1
                    print("ok    \(testCase.name)")
                } else {
                    failed += 1
                    print("FAIL  \(testCase.name)  (\(file))")
                    for problem in problems { print("      \(problem)") }
                    print("      why: \(result.decidingStage.map { "\($0): " } ?? "")\(result.reason)")
                    for skipped in result.route?.skipped ?? [] {
                        print("      route \(skipped.route) did not fit: \(skipped.misses.joined(separator: "; or "))")
                    }
                    for policy in result.policies where policy.matchedRule == nil {
                        for miss in policy.misses { print("      \(policy.policy): \(miss)") }
                    }
                }
            }
        }
        return (passed, failed)
    }

    static func differences(_ expect: Expectation, _ result: Explanation) -> [String] {
        var problems: [String] = []
        if expect.status != result.status { problems.append("status: expected \(expect.status), got \(result.status)") }
        if let decision = expect.decision, decision.lowercased() != result.decision {
            problems.append("decision: expected \(decision), got \(result.decision ?? "none (no function)")")
        }
        if let policy = expect.policy, policy != result.decidingPolicy {
            problems.append("deciding policy: expected \(policy), got \(result.decidingPolicy ?? "none")")
        }
        if let function = expect.function, function != result.function {
            problems.append("function: expected \(function), got \(result.function ?? "none")")
        }
        if let stage = expect.stage, stage != (result.decidingStage?.rawValue ?? "none") {
            problems.append("deciding stage: expected \(stage), got \(result.decidingStage?.rawValue ?? "none (it reaches the function)")")
        }
        if let route = expect.route, route != result.route?.matched {
            problems.append("route: expected \(route), got \(result.route?.matched ?? "none")")
        }
        return problems
    }

    static func read(_ file: String) throws -> TestFile {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CommandFailure("cannot read \(file)") }
        do {
            return try YAMLDecoder().decode(TestFile.self, from: text)
        } catch let error as DecodingError {
            throw CommandFailure("\(file): \(describe(error))")
        } catch {
            throw CommandFailure("\(file): \(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop(while: { $0 == "." }).description
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)): missing `\(key.stringValue)`"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
