import Testing
@testable import OSSVFS

/// The spool budget's waits: they end when space comes back, fail when none comes back for the
/// stall limit, and fail at once once the budget is closed.
@Suite struct SpoolBudgetTests {
    @Test func aWaitWithNothingGivenBackFailsAfterTheStallLimit() async throws {
        let budget = SpoolBudget(limit: 100, stallLimit: .milliseconds(300))
        try await budget.reserve(80)
        let started = ContinuousClock.now
        await #expect(throws: VFSError.self) { try await budget.reserve(40) }
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        #expect(await budget.used == 80)
    }

    @Test func aWaitWhileSpaceComesBackGoesOnUntilItFits() async throws {
        // The steps are far apart from the limit (a loaded machine's sleeps overran a 100 ms
        // step against a 300 ms limit), and the whole wait is longer than the limit.
        let budget = SpoolBudget(limit: 100, stallLimit: .seconds(1))
        try await budget.reserve(95)
        // A byte back every 50 ms: never a second without progress, and room after 1.75 s.
        let giver = Task {
            for _ in 0..<35 {
                try await Task.sleep(for: .milliseconds(50))
                await budget.release(1)
            }
        }
        try await budget.reserve(40)
        #expect(await budget.used == 100)
        try await giver.value
    }

    /// A part on its way to the store (a slow link) is progress to come: waiters wait on.
    @Test func aWaitWhilePartsAreBeingSentGoesOn() async throws {
        let budget = SpoolBudget(limit: 100, stallLimit: .milliseconds(300))
        try await budget.reserve(100)
        await budget.sending(true)
        let waiter = Task { try await budget.reserve(10) }
        try await Task.sleep(for: .milliseconds(900))
        await budget.sending(false)
        await budget.release(50)
        try await waiter.value
        #expect(await budget.used == 60)
    }

    @Test func closingFailsTheWaitersAndLaterReservations() async throws {
        let budget = SpoolBudget(limit: 100, stallLimit: .seconds(60))
        try await budget.reserve(100)
        let waiter = Task { try await budget.reserve(10) }
        try await Task.sleep(for: .milliseconds(100))
        await budget.close(reason: "ending")
        await #expect(throws: VFSError.storeUnavailable("ending")) { try await waiter.value }
        await #expect(throws: VFSError.storeUnavailable("ending")) { try await budget.reserve(1) }
        #expect(await !budget.tryReserve(0))
    }
}
