import Foundation
import Testing
@testable import OSSVFS

@Suite struct WriteBackOrderTests {
    /// An upload sealed before another of its name gives way once that one is stored, not
    /// while it is only sealed (it may still fail); seal times grow per name even when a
    /// previous run's clock was ahead.
    @Test func anOlderUploadGivesWayOnlyToAStoredNewerOne() async throws {
        let order = WriteBackOrder()
        let ran = LockedBox<[String]>([])
        let (first, second) = (await order.seal("k"), await order.seal("k"))
        #expect(first < second)
        try await order.commit("k", sealedAt: second) { ran.withValue { $0.append("second") } }
        await #expect(throws: WriteBackOrder.Superseded.self) {
            try await order.commit("k", sealedAt: first) { ran.withValue { $0.append("first") } }
        }
        // Only sealed, the newer one does not hold the older back.
        let (older, newer) = (await order.seal("j"), await order.seal("j"))
        try await order.commit("j", sealedAt: older) { ran.withValue { $0.append("older") } }
        try await order.commit("j", sealedAt: newer) { ran.withValue { $0.append("newer") } }
        // A previous run stored an upload it sealed ten minutes ahead of this clock.
        let ahead = Date().timeIntervalSince1970 + 600
        await order.storedEarlier("c", at: ahead)
        let now = await order.seal("c")
        #expect(now > ahead)
        try await order.commit("c", sealedAt: now) { ran.withValue { $0.append("after the clock") } }
        #expect(ran.value == ["second", "older", "newer", "after the clock"])
    }

    /// Commits of one name never overlap: a second waits for the first's body to end.
    @Test func commitsOfOneNameRunOneAtATime() async throws {
        let order = WriteBackOrder()
        let ran = LockedBox<[String]>([])
        let (one, two) = (await order.seal("k"), await order.seal("k"))
        let (entered, enteredGate) = AsyncStream<Void>.makeStream()
        let (release, releaseGate) = AsyncStream<Void>.makeStream()
        let first = Task {
            try await order.commit("k", sealedAt: one) {
                ran.withValue { $0.append("first in") }
                enteredGate.yield()
                for await _ in release { break }
                ran.withValue { $0.append("first out") }
            }
        }
        for await _ in entered { break }
        let second = Task { try await order.commit("k", sealedAt: two) { ran.withValue { $0.append("second") } } }
        try await Task.sleep(for: .milliseconds(100))
        releaseGate.yield()
        _ = try await first.value
        _ = try await second.value
        #expect(ran.value == ["first in", "first out", "second"])
    }
}
