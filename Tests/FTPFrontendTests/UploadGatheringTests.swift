import Testing
@testable import FTPFrontend

@Suite struct UploadGatheringTests {
    /// One upload alone gathers 1 MiB per write; many together stay within 16 MiB, but never
    /// below 256 KiB each.
    @Test func theSizeShrinksWithUploadsReceiving() {
        #expect(UploadGathering.size(receiving: 0) == 1 << 20)
        #expect(UploadGathering.size(receiving: 1) == 1 << 20)
        #expect(UploadGathering.size(receiving: 16) == 1 << 20)
        #expect(UploadGathering.size(receiving: 17) == (16 << 20) / 17)
        #expect(UploadGathering.size(receiving: 32) == 512 << 10)
        #expect(UploadGathering.size(receiving: 64) == 256 << 10)
        #expect(UploadGathering.size(receiving: 5000) == 256 << 10)
        for count in 1...300 { #expect(UploadGathering.size(receiving: count) * count <= max(16 << 20, count * (256 << 10))) }
    }

    /// The count follows begin and end.
    @Test func theCountFollowsBeginAndEnd() {
        // Other suites' uploads may be receiving at once: compare with the size before.
        let before = UploadGathering.chunk
        for _ in 0..<200 { UploadGathering.begin() }
        #expect(UploadGathering.chunk == 256 << 10)
        for _ in 0..<200 { UploadGathering.end() }
        #expect(UploadGathering.chunk == before)
    }
}
