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
        // (A loaded machine's longer sleep makes the rate lower, down to the 1 MiB floor.)
        #expect(abs(Double(size) - max(Double(1 << 20), rate * PartPacing.holdTarget / 4)) < 2)
        // Fewer parts at once, each larger, for the same hold.
        #expect(pacing.size(ofPart: 5, scheduled: configured, concurrency: 1, storeMinimum: 100 << 10) >= size)
        // The size holds for 5,000 parts, then doubles every 500, so that 10,000 of them
        // still hold a large file.
        #expect(pacing.size(ofPart: 5_000, scheduled: 1 << 30, concurrency: 4, storeMinimum: 100 << 10) == size)
        #expect(pacing.size(ofPart: 5_001, scheduled: 1 << 30, concurrency: 4, storeMinimum: 100 << 10) == 2 * size)
        #expect(pacing.size(ofPart: 5_501, scheduled: 1 << 30, concurrency: 4, storeMinimum: 100 << 10) == 4 * size)
    }

    /// A link that slows down after a fast stretch: the rate follows within a few half-lives
    /// (30 s each; 0.2 s here), where an average over the whole upload kept the fast
    /// stretch's parts (64 MiB/s here).
    @Test func theRateFollowsALinkThatSlowsDown() async throws {
        let pacing = PartPacing(halfLife: 0.2)
        try await pacing.sending(64 << 20) { try await Task.sleep(for: .milliseconds(10)) }
        // 1 MiB in at least 1 s: about 3 MiB/s once the fast stretch has aged five half-lives.
        try await pacing.sending(1 << 20) { try await Task.sleep(for: .seconds(1)) }
        let rate = try #require(pacing.rate)
        #expect(rate < 8 * 1024 * 1024, "\(rate)")
    }

    /// Parts at once: one until a rate is known; as configured on a fast link; fewer when even
    /// the smallest parts side by side would hold the client past the target (S3's 5 MiB at
    /// under 2.5 MiB/s: four of them at 2 MiB/s held it 10 s, at 1 MiB/s 20 s).
    @Test func aSlowLinkTakesFewerPartsAtOnce() async throws {
        let s3Smallest = PartPacing.smallest(scheduled: configured, storeMinimum: 5 << 20)
        #expect(s3Smallest == 5 << 20)
        #expect(PartPacing().partsAtOnce(configured: 4, smallestPart: s3Smallest) == 1)
        let fast = PartPacing()
        try await fast.sending(64 << 20) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(fast.partsAtOnce(configured: 4, smallestPart: s3Smallest) == 4)
        let slow = PartPacing()
        // 1 MiB in at least 0.5 s: at most 2 MiB/s, so at most three 5 MiB parts in 8 s, one
        // of them the part being filled meanwhile.
        try await slow.sending(1 << 20) { try await Task.sleep(for: .milliseconds(500)) }
        let rate = try #require(slow.rate)
        let atOnce = slow.partsAtOnce(configured: 4, smallestPart: s3Smallest)
        #expect(atOnce >= 1 && atOnce <= 2)
        #expect(atOnce == max(1, Int(rate * PartPacing.holdTarget / Double(5 << 20) - 1)))
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
        // Two parts of 1 MiB sent side by side for 3 s: 2 MiB in one stretch (0.67 MiB/s), not
        // in two stretches of 3 s each (0.33 MiB/s), even if a loaded machine starts them a
        // second apart.
        let pacing = PartPacing()
        async let first: Void = pacing.sending(1 << 20) { try await Task.sleep(for: .seconds(3)) }
        async let second: Void = pacing.sending(1 << 20) { try await Task.sleep(for: .seconds(3)) }
        _ = try await (first, second)
        let rate = try #require(pacing.rate)
        #expect(rate > 0.5 * 1024 * 1024 && rate <= 2.0 * 1024 * 1024 / 3 * 1.01)
    }
}
