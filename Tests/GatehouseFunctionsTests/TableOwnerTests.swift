import Foundation
import GatehouseTesting
import Testing
@testable import GatehouseFunctions

#if canImport(Glibc)
import Glibc
#endif

@Suite("Port tables name their owner, and only a table whose owner and instances are gone is abandoned")
struct TableOwnerTests {
    @Test("The handle and the table's own comment are read from `nft -a list table`; a chain's comment names nobody")
    func parse() throws {
        let listing = """
            table inet gatehouse_1f { # handle 12
            \tcomment "gatehouse pid=4242 started=987654 pidns=4026531836"
            \tset ports { # handle 2
            \t\ttype inet_service
            \t}
            }
            """
        let parsed = try #require(TableOwner.parse(tableListing: listing))
        #expect(parsed.handle == 12)
        #expect(parsed.owner == TableOwner(pid: 4242, started: "987654", namespace: "4026531836"))
        let chainComment = "table inet gatehouse_1f { # handle 3\n\tchain output { # handle 1\n\t\tcomment \"gatehouse pid=1 started=2 pidns=3\"\n\t}\n}"
        let unowned = try #require(TableOwner.parse(tableListing: chainComment))
        #expect(unowned.handle == 3 && unowned.owner == nil)
        #expect(TableOwner.parse(tableListing: "table inet gatehouse_1f {\n") == nil, "no handle, no deletion")
        #expect(TableOwner(comment: "\tcomment \"someone else pid=1\"") == nil)
        #expect(TableOwner(comment: "\tcomment \"\(TableOwner.current.comment)\"") == TableOwner.current)
    }

    @Test("Only gatehouse_ tables of the inet family are candidates")
    func tables() {
        let listing = "table inet gatehouse_ab12\ntable ip filter\ntable inet other\ntable ip gatehouse_cd\ntable inet gatehouse_ef\n"
        #expect(InstancePortFirewall.gatehouseTables(in: listing) == ["gatehouse_ab12", "gatehouse_ef"])
    }

    @Test("The ports and uids a table admits come from its sets; an empty set admits nothing; a set of another shape is not judged")
    func admitted() throws {
        let meta = #"{"metainfo": {"version": "1.0.6"}}"#
        let ports = #"{"nftables": [\#(meta), {"set": {"name": "ports", "elem": [40123, 40125]}}]}"#
        let owners = #"{"nftables": [\#(meta), {"set": {"name": "owners", "elem": [{"concat": [40123, 1001]}, {"concat": [40125, 1002]}]}}]}"#
        let admitted = try #require(InstancePortFirewall.admitted(ports: ports, owners: owners))
        #expect(Set(admitted.ports) == [40123, 40125] && admitted.uids == [1001, 1002])
        let empty = #"{"nftables": [\#(meta), {"set": {"name": "ports"}}]}"#
        let none = try #require(InstancePortFirewall.admitted(ports: empty, owners: empty))
        #expect(none.ports.isEmpty && none.uids.isEmpty)
        #expect(InstancePortFirewall.admitted(ports: ports, owners: #"{"nftables": [{"set": {"elem": ["x"]}}]}"#) == nil)
        #expect(InstancePortFirewall.admitted(ports: "not json", owners: owners) == nil)
    }

    @Test("This process is not gone; a pid with another start time, or none, is; another PID namespace is not judged")
    func gone() {
        let me = TableOwner.current
        #expect(me.canJudge)
        #expect(!me.isGone)
        #expect(TableOwner(pid: me.pid, started: "1", namespace: me.namespace).isGone, "the pid was reused by a later process")
        #expect(TableOwner(pid: Int32.max, started: "1", namespace: me.namespace).isGone)
        #expect(!TableOwner(pid: Int32.max, started: "1", namespace: "1").isGone)
        #expect(ProcessTable.isAbsent(Int32.max) && !ProcessTable.isAbsent(getpid()))
    }

    @Test("A port something listens on, and a uid something runs as, are seen")
    func inUse() throws {
        let listener = try LoopbackListener()
        #expect(ListeningSockets.anyListener(onPort: listener.port))
        listener.close()
        #expect(!ListeningSockets.anyListener(onPort: listener.port), "closed")
        #expect(ProcessTable.anyProcess(runningAs: [getuid()]))
        #expect(!ProcessTable.anyProcess(runningAs: []))
    }
}
