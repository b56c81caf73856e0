import Testing
@testable import OSSVFS

@Suite struct WriteBackOrderTests {
    /// An upload sealed before another of the same name never commits once the later one is
    /// known; other names are not held back; commits of one name never overlap.
    @Test func laterSealsWinAndCommitsOfOneNameRunOneAtATime() async throws {
        let order = WriteBackOrder()
        await order.sealed("k", at: 1)
        await order.sealed("k", at: 2)
        let ran = LockedBox<[String]>([])
        await #expect(throws: WriteBackOrder.Superseded.self) {
            try await order.commit("k", sealedAt: 1) { ran.withValue { $0.append("old") } }
        }
        try await order.commit("other", sealedAt: 1) { ran.withValue { $0.append("other") } }

        // The first commit holds the name until its body ends; the second waits for it.
        let (entered, enteredGate) = AsyncStream<Void>.makeStream()
        let (release, releaseGate) = AsyncStream<Void>.makeStream()
        let first = Task {
            try await order.commit("k", sealedAt: 2) {
                ran.withValue { $0.append("first in") }
                enteredGate.yield()
                for await _ in release { break }
                ran.withValue { $0.append("first out") }
            }
        }
        for await _ in entered { break }
        let second = Task { try await order.commit("k", sealedAt: 3) { ran.withValue { $0.append("second") } } }
        try await Task.sleep(for: .milliseconds(100))
        releaseGate.yield()
        try await first.value
        try await second.value
        #expect(ran.value == ["other", "first in", "first out", "second"])
        // A record of a previous run (sealed at 0, or before the field existed) gives way too.
        await #expect(throws: WriteBackOrder.Superseded.self) { try await order.commit("k", sealedAt: 0) {} }
    }
}
