import Testing
@testable import OSSVFS

/// The lease that makes uploads continuing one file take turns.
@Suite struct ContinuationLeasesTests {
    @Test func aSecondTakerWaitsAndGetsTheLeaseWhenReleased() async {
        let leases = ContinuationLeases()
        #expect(await leases.acquire("k", within: .seconds(5)))
        async let second = leases.acquire("k", within: .seconds(5))
        try? await Task.sleep(for: .milliseconds(100))
        await leases.release("k")
        #expect(await second)
        // Handed over, not freed: a third must wait for the second's release.
        #expect(await !leases.acquire("k", within: .milliseconds(100)))
        await leases.release("k")
        #expect(await leases.acquire("k", within: .milliseconds(100)))
    }

    @Test func aTakerGivesUpAfterItsLimitAndOtherNamesAreFree() async {
        let leases = ContinuationLeases()
        #expect(await leases.acquire("a", within: .seconds(1)))
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await !leases.acquire("a", within: .milliseconds(200)))
        #expect(clock.now - start >= .milliseconds(200))
        #expect(await leases.acquire("b", within: .milliseconds(10)))
        // The one that gave up is no longer queued: a release frees the name.
        await leases.release("a")
        #expect(await leases.acquire("a", within: .milliseconds(10)))
    }
}
