import GatehouseConfig
import GatehouseCore
import GatehouseRouting

/// libFuzzer entry: one input is one YAML file, loaded as `gatehouse up -f` and `apply` load it.
///
/// A crash is a finding; so is a broken invariant (each `precondition` below):
/// - loading never traps, whatever the bytes;
/// - every diagnostic points inside the text (a line the file has, or its end), so editors can jump to it;
/// - a config that loads reloads from the documents it keeps (what the store reloads on restart),
///   with the same resources;
/// - routing built from a loaded config routes a few requests without trapping.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let yaml = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let snapshot: ConfigSnapshot
    do throws(ConfigError) {
        snapshot = try ConfigLoader.load(yaml: yaml, file: "fuzz.yaml")
    } catch {
        // libyaml puts "unexpected end of input" on the line after an unterminated last line.
        let lines = yaml.unicodeScalars.count { "\n\r\u{85}\u{2028}\u{2029}".unicodeScalars.contains($0) } + 2
        for diagnostic in error.diagnostics {
            precondition(!diagnostic.message.isEmpty, "a diagnostic without a message")
            precondition(diagnostic.location.line <= lines, "diagnostic past the end of the text: \(diagnostic)")
        }
        return 0
    }
    checkReload(snapshot)
    ConfigRouting.routeSamples(snapshot)
    return 0
}

/// What an apply stores must load again on its own, to the same resources.
private func checkReload(_ snapshot: ConfigSnapshot) {
    let reloaded: ConfigSnapshot
    do throws(ConfigError) {
        reloaded = try ConfigLoader.load(documents: snapshot.documents)
    } catch {
        preconditionFailure("a loaded config does not reload from its documents: \(error.diagnostics)")
    }
    precondition(reloaded.documents.map(\.key) == snapshot.documents.map(\.key), "reload changed the documents")
    precondition(reloaded.functions.map(\.key) == snapshot.functions.map(\.key), "reload changed the functions")
    precondition(reloaded.virtualServices.count == snapshot.virtualServices.count, "reload changed the VirtualServices")
}
