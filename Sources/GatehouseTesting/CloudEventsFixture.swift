import Foundation

/// Real CloudEvents peers for the event tests: Google's Functions Framework for Python running
/// unmodified functions (`--signature-type cloudevent`), and a publisher using the CloudEvents
/// Python SDK. Both come from PyPI (`functions-framework`, which brings `cloudevents`),
/// installed once per test run beside the build (see `PythonPackages`).
public enum CloudEventsFixture {
    public static let fileName = "events_function.py"
    public static let publisherName = "publish_event.py"

    /// Installs the Functions Framework (and with it the CloudEvents SDK) if Python lacks it.
    public static func ensureInstalled() async throws {
        try await PythonPackages.ensure(module: "functions_framework", requirement: "functions-framework==3.10.2")
    }

    /// Where Python finds what was installed: for a function's `env`.
    public static var pythonPath: String { PythonPackages.directory.path }

    /// Writes the functions and the publisher into `directory`, and a `records` folder every user may
    /// write (functions run under their own uids when Gatehouse runs as root). Returns the folder.
    @discardableResult
    public static func write(into directory: URL) throws -> URL {
        try functions.write(to: directory.appendingPathComponent(fileName), atomically: true, encoding: .utf8)
        try publisher.write(to: directory.appendingPathComponent(publisherName), atomically: true, encoding: .utf8)
        let records = directory.appendingPathComponent("records")
        try FileManager.default.createDirectory(at: records, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: records.path)
        return records
    }

    /// A `Function` running `target` of the fixture under the Functions Framework.
    public static func function(
        name: String, target: String = "receive", signatureType: String = "cloudevent", records: URL, namespace: String = "default", extra: String = ""
    ) -> String {
        """
        apiVersion: gatehouse.dev/v1
        kind: Function
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          process:
            command: ["python3", "-m", "functions_framework", "--target", "\(target)", "--signature-type", "\(signatureType)", "--source", "\(fileName)"]
            env:
              - {name: PYTHONPATH, value: "\(pythonPath)"}
              - {name: RECORD_FILE, value: "\(records.appendingPathComponent("\(name).jsonl").path)"}
        \(extra)
        """
    }

    /// Every event `function` recorded, in order (one JSON object each: its attributes, extensions,
    /// data, and `xfcc`, the `X-Forwarded-Client-Cert` it came with).
    public static func received(by function: String, in records: URL) -> [[String: Any]] {
        guard let text = try? String(contentsOf: records.appendingPathComponent("\(function).jsonl"), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Publishes one event with the CloudEvents SDK (`binary` or `structured` mode) to `url` with
    /// `Host: host`; the answer's status and body.
    public static func publish(
        url: String, host: String, attributes: [String: String], data: String?, mode: String = "binary", in directory: URL
    ) async throws -> (status: Int, body: String) {
        let arguments = try String(decoding: JSONSerialization.data(withJSONObject: ["url": url, "host": host, "attributes": attributes, "data": data as Any, "mode": mode]), as: UTF8.self)
        let result = try await PythonPackages.runOffPool(["python3", directory.appendingPathComponent(publisherName).path, arguments])
        let parts = result.output.split(separator: " ", maxSplits: 1).map(String.init)
        return (Int(parts.first ?? "") ?? 0, parts.count > 1 ? parts[1] : "")
    }

    static let functions = #"""
        import json, os
        import functions_framework
        from cloudevents.http import CloudEvent, to_binary

        def record(event):
            import flask
            attributes = dict(event.get_attributes())
            data = event.get_data()
            if isinstance(data, (bytes, bytearray)):
                data = data.decode("utf-8", "replace")
            caller = flask.request.headers.get("X-Forwarded-Client-Cert")
            path = os.environ["RECORD_FILE"]
            with open(path, "a") as f:
                f.write(json.dumps({"attributes": attributes, "data": data, "xfcc": caller}) + "\n")
            # Run as root, Gatehouse gives instances their own uids, and a restarted function may
            # get another: whoever made the file lets the next instance append to it.
            try:
                os.chmod(path, 0o666)
            except PermissionError:
                pass

        @functions_framework.cloud_event
        def receive(event):
            """Records every event; fails (500) for types ending in .fail."""
            record(event)
            if event["type"].endswith(".fail"):
                raise RuntimeError("told to fail")

        @functions_framework.cloud_event
        def keep(event):
            """Records every event and takes it (a dead-letter sink)."""
            record(event)

        @functions_framework.http
        def reply(request):
            """Answers each event with a new one (type + ".reply"), in binary mode."""
            from cloudevents.http import from_http
            event = from_http(request.headers, request.get_data())
            record(event)
            answer = CloudEvent({"type": event["type"] + ".reply", "source": "/reply"}, {"in_reply_to": event["id"]})
            headers, body = to_binary(answer)
            return body, 200, headers
        """#

    static let publisher = #"""
        import json, sys, urllib.request, urllib.error
        from cloudevents.http import CloudEvent, to_binary, to_structured

        args = json.loads(sys.argv[1])
        data = args.get("data")
        event = CloudEvent(args["attributes"], json.loads(data) if data is not None else None)
        headers, body = (to_structured if args["mode"] == "structured" else to_binary)(event)
        headers = dict(headers)
        headers["Host"] = args["host"]
        request = urllib.request.Request(args["url"], data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                print(response.status, response.read().decode())
        except urllib.error.HTTPError as error:
            print(error.code, error.read().decode())
        """#
}
