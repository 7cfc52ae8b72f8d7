import GatehouseCore
import Testing

@Suite("Listen addresses")
struct ListenAddressTests {
    @Test("HOST:PORT and :PORT are accepted; the host defaults to 127.0.0.1", arguments: [
        ("127.0.0.1:8080", "127.0.0.1", 8080),
        ("0.0.0.0:0", "0.0.0.0", 0),
        ("localhost:65535", "localhost", 65535),
        (":9090", "127.0.0.1", 9090),
    ])
    func accepted(text: String, host: String, port: Int) {
        #expect(ListenAddress(parsing: text) == ListenAddress(host: host, port: port))
    }

    @Test("A missing, non-numeric or out-of-range port is rejected", arguments: [
        "", "8080", "localhost", "localhost:", "localhost:http", "localhost:65536", "localhost:-1", "localhost: 80",
    ])
    func rejected(text: String) {
        #expect(ListenAddress(parsing: text) == nil)
    }

    @Test("description is HOST:PORT and parses back")
    func description() {
        let address = ListenAddress(host: "0.0.0.0", port: 8443)
        #expect(address.description == "0.0.0.0:8443")
        #expect(ListenAddress(parsing: address.description) == address)
    }

    @Test("A bracketed IPv6 host is accepted without its brackets")
    func ipv6() {
        #expect(ListenAddress(parsing: "[::1]:8080") == ListenAddress(host: "::1", port: 8080))
    }
}
