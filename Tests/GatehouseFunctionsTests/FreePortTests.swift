import Foundation
import Testing

@testable import GatehouseFunctions

@Suite("Ports for new instances")
struct FreePortTests {
    @Test("Picked below the kernel's ephemeral range, where servers binding port 0 never land")
    func belowEphemeralRange() throws {
        let range = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
        let start = try #require(Int(range.split(whereSeparator: \.isWhitespace)[0]))
        try #require(start - 20_000 >= 1024, "this machine's ephemeral range leaves no room below it")
        for _ in 0..<20 {
            let port = try FreePort.pick()
            #expect((20_000..<start).contains(port))
        }
    }
}
