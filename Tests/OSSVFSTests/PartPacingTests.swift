import Testing
@testable import OSSVFS

/// Part sizes from the store's rate: the first part keeps the configured size, the next are
/// small until the store has stored one, then sized so that the parts in flight take about
/// ``PartPacing/holdTarget``, never beyond the configured schedule, and doubling every
/// ``PartPacing/partsPerDoubling`` parts.
@Suite struct PartPacingTests {
    let configured = 16 << 20

    @Test func theFirstPartKeepsTheConfiguredSizeAndTheNextAreSmallUntilARateIsKnown() {
        let pacing = PartPacing()
        #expect(pacing.rate == nil)
        #expect(pacing.size(ofPart: 1, scheduled: configured, concurrency: 4, storeMinimum: 100 << 10) == configured)
        #expect(pacing.size(ofPart: 2, scheduled: configured, concurrency: 4, storeMinimum: 100 << 10) == 1 << 20)
        // A store's own minimum (S3's 5 MiB) is the floor; a configured size below 1 MiB is kept.
        #expect(pacing.size(ofPart: 2, scheduled: configured, concurrency: 4, storeMinimum: 5 << 20) == 5 << 20)
        #expect(pacing.size(ofPart: 2, scheduled: 256 << 10, concurrency: 4, storeMinimum: 1) == 256 << 10)
    }

    @Test func aSlowStoreGetsPartsThatTakeAboutTheHoldTarget() async throws {
        let pacing = PartPacing()
        // 1 MiB stored in at least 0.4 s: at most 2.5 MiB/s, so 4 parts in flight of at most
        // 2.5 × 8 / 4 = 5 MiB each.
        try await pacing.sending(1 << 20) { try await Task.sleep(for: .milliseconds(400)) }
        let rate = try #require(pacing.rate)
        #expect(rate <= 2.5 * 1024 * 1024 && rate > 0)
        let size = pacing.size(ofPart: 5, scheduled: configured, concurrency: 4, storeMinimum: 100 << 10)
        #expect(size >= 1 << 20 && size <= 5 << 20 + 1)
        #expect(abs(Double(size) - rate * PartPacing.holdTarget / 4) < 2)
        // Fewer parts at once, each larger, for the same hold.
        #expect(pacing.size(ofPart: 5, scheduled: configured, concurrency: 1, storeMinimum: 100 << 10) > size)
        // Every 500 parts the size doubles, so that 10,000 of them still hold a large file.
        #expect(pacing.size(ofPart: 502, scheduled: 1 << 30, concurrency: 4, storeMinimum: 100 << 10) == 2 * size)
    }

    @Test func aFastStoreGetsTheConfiguredSize() async throws {
        let pacing = PartPacing()
        try await pacing.sending(64 << 20) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(pacing.size(ofPart: 3, scheduled: configured, concurrency: 4, storeMinimum: 100 << 10) == configured)
    }

    @Test func aFailedPartCountsItsTimeButNoBytes() async throws {
        let pacing = PartPacing()
        await #expect(throws: CancellationError.self) {
            try await pacing.sending(8 << 20) {
                try await Task.sleep(for: .milliseconds(50))
                throw CancellationError()
            }
        }
        #expect(pacing.rate == nil)
        #expect(pacing.size(ofPart: 2, scheduled: configured, concurrency: 4, storeMinimum: 100 << 10) == 1 << 20)
    }

    @Test func partsSentTogetherShareOneStretchOfTime() async throws {
        // Two parts of 1 MiB sent side by side for 1.5 s: 2 MiB in one stretch (1.33 MiB/s),
        // not in two stretches of 1.5 s each (0.67 MiB/s), whatever a loaded machine adds.
        let pacing = PartPacing()
        async let first: Void = pacing.sending(1 << 20) { try await Task.sleep(for: .milliseconds(1500)) }
        async let second: Void = pacing.sending(1 << 20) { try await Task.sleep(for: .milliseconds(1500)) }
        _ = try await (first, second)
        let rate = try #require(pacing.rate)
        #expect(rate > 1.0 * 1024 * 1024 && rate <= 2.0 * 1024 * 1024 / 1.5)
    }
}
