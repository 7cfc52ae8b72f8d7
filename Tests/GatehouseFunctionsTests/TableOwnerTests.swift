import Testing
@testable import GatehouseFunctions

@Suite("Port tables name their owner, and only a gone owner's table is abandoned")
struct TableOwnerTests {
    @Test("The owner comment is read back from `nft list table`, and a listing without one names nobody")
    func parse() {
        let listing = """
            table inet gatehouse_1f {
            \tcomment "gatehouse pid=4242 started=987654 pidns=4026531836"
            \tset ports {
            \t\ttype inet_service
            \t}
            }
            """
        #expect(TableOwner(listing: listing) == TableOwner(pid: 4242, started: "987654", namespace: "4026531836"))
        #expect(TableOwner(listing: "table inet gatehouse_1f {\n\tchain output {\n\t}\n}") == nil)
        #expect(TableOwner(listing: "\tcomment \"someone else pid=1\"") == nil)
        #expect(TableOwner(listing: "\tcomment \"\(TableOwner.current.comment)\"") == TableOwner.current)
    }

    @Test("Only gatehouse_ tables of the inet family are candidates")
    func tables() {
        let listing = "table inet gatehouse_ab12\ntable ip filter\ntable inet other\ntable ip gatehouse_cd\ntable inet gatehouse_ef\n"
        #expect(InstancePortFirewall.gatehouseTables(in: listing) == ["gatehouse_ab12", "gatehouse_ef"])
    }

    @Test("This process is not gone; a pid with another start time, or none, is; another PID namespace is not judged")
    func gone() {
        let me = TableOwner.current
        #expect(!me.isGone)
        #expect(TableOwner(pid: me.pid, started: "1", namespace: me.namespace).isGone, "the pid was reused by a later process")
        #expect(TableOwner(pid: Int32.max, started: "1", namespace: me.namespace).isGone)
        #expect(!TableOwner(pid: Int32.max, started: "1", namespace: "1").isGone)
    }
}
