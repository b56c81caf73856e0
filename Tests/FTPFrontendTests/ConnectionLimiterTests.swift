import Foundation
import Testing
@testable import FTPFrontend
import OSSVFS

@Suite struct ConnectionLimiterTests {
    /// Refused connections left no trace; a flood of them must not flood the log either: the
    /// first is said, then one line a minute per client.
    /// A reload to ban_threshold 0 ("no bans") left the bans in force until they ran out.
    @Test func turningBansOffLiftsTheOnesInForce() {
        let limiter = ConnectionLimiter(limits: .init(banThreshold: 2))
        _ = limiter.recordFailedLogin("10.0.0.9")
        _ = limiter.recordFailedLogin("10.0.0.9")
        #expect(limiter.isBanned("10.0.0.9") && limiter.admit("10.0.0.9") != nil)
        limiter.limits.banThreshold = 0
        #expect(!limiter.isBanned("10.0.0.9") && limiter.admit("10.0.0.9") == nil)
    }

    @Test func refusedConnectionsAreLoggedOnceAMinutePerClient() {
        let limiter = ConnectionLimiter()
        #expect(limiter.refusalToLog("10.0.0.1") == 1)
        for _ in 0..<50 { #expect(limiter.refusalToLog("10.0.0.1") == nil) }
        #expect(limiter.refusalToLog("10.0.0.2") == 1)
        #expect(limiter.refusalToLog("2001:db8::1") == 1)
        #expect(limiter.refusalToLog("2001:db8::2") == nil)  // the same /64
    }

    /// Per client alone, a flood from many addresses (a /48 has 65,536 clients) was a line per
    /// client; the lines of a minute are bounded, and the next one counts what was not said.
    @Test func refusalLinesAreBoundedInAllAndCountWhatWasHeld() {
        let limiter = ConnectionLimiter()
        let start = 1_000_000.0
        for index in 0..<ConnectionLimiter.refusalLinesPerMinute {
            #expect(limiter.refusalToLog("10.1.0.\(index)", at: start) == 1)
        }
        for index in 0..<500 { #expect(limiter.refusalToLog("10.2.\(index / 200).\(index % 200)", at: start + 1) == nil) }
        #expect(limiter.refusalToLog("10.1.0.0", at: start + 2) == nil)
        // The next minute: the first line says what was held (500 others, one of 10.1.0.0's).
        #expect(limiter.refusalToLog("10.1.0.0", at: start + 61) == 502)
        #expect(limiter.refusalToLog("10.3.0.1", at: start + 62) == 1)
    }

    /// Every address that ever failed a login stayed on record for the life of the process.
    @Test func failuresOlderThanTheWindowAreForgotten() async throws {
        let limiter = ConnectionLimiter(limits: .init(banThreshold: 3, banWindow: 1, banDuration: 1))
        for index in 0..<1000 { _ = limiter.recordFailedLogin("10.0.\(index / 256).\(index % 256)") }
        #expect(limiter.trackedClientCount == 1000)
        try await Task.sleep(for: .milliseconds(1100))
        _ = limiter.recordFailedLogin("10.9.9.9")
        #expect(limiter.trackedClientCount == 1)
    }

    /// Bans and their count go by an IPv6 client's /64: one client may use any of its 2^64
    /// addresses, and one failure from each never reached the ban.
    @Test func anIPv6ClientIsCountedByItsSlash64() {
        let limiter = ConnectionLimiter(limits: .init(banThreshold: 3))
        #expect(limiter.recordFailedLogin("2001:db8:1:2::1") == nil)
        #expect(limiter.recordFailedLogin("2001:db8:1:2::2") == nil)
        #expect(limiter.recordFailedLogin("2001:db8:1:2:ffff::3") != nil)
        #expect(limiter.isBanned("2001:db8:1:2:abcd::9"))
        #expect(limiter.admit("2001:db8:1:2::77") == ConnectionLimiter.bannedReply)
        #expect(!limiter.isBanned("2001:db8:1:3::1"))
        #expect(limiter.admit("2001:db8:1:3::1") == nil)
        // IPv4 addresses stay apart, also as a dual-stack listener sees them.
        #expect(IPLiteral.clientKey("::ffff:192.0.2.7") == "192.0.2.7")
        #expect(IPLiteral.clientKey("2001:db8:1:2::5") == IPLiteral.clientKey("2001:db8:1:2:ffff::1"))
        #expect(IPLiteral.clientKey("2001:db8:1:2::5") != IPLiteral.clientKey("2001:db8:1:3::5"))
        for _ in 0..<3 { _ = limiter.recordFailedLogin("192.0.2.1") }
        #expect(limiter.isBanned("192.0.2.1") && !limiter.isBanned("192.0.2.2"))
    }

    /// Connections per client count an IPv6 client's /64 too: counted by address, a client with
    /// a /64 opened max_connections_per_ip from each of its addresses, up to every slot.
    @Test func connectionsPerClientCountAnIPv6Slash64() {
        let limiter = ConnectionLimiter(limits: .init(maxConnections: 100, maxConnectionsPerAddress: 2))
        #expect(limiter.admit("2001:db8:1:2::1") == nil)
        #expect(limiter.admit("2001:db8:1:2::2") == nil)
        #expect(limiter.admit("2001:db8:1:2:ffff::3")?.lines == ["Too many connections from your address."])
        #expect(limiter.admit("2001:db8:1:3::1") == nil)
        limiter.release("2001:db8:1:2::1")
        #expect(limiter.admit("2001:db8:1:2::9") == nil)
        // An IPv4 client reached over a dual-stack listener is the same client as over IPv4.
        #expect(limiter.admit("192.0.2.1") == nil)
        #expect(limiter.admit("::ffff:192.0.2.1") == nil)
        #expect(limiter.admit("192.0.2.1") != nil)
        limiter.release("::ffff:192.0.2.1")
        #expect(limiter.admit("192.0.2.1") == nil)
    }
}
