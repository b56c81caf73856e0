import Testing
@testable import OSSVFS

/// Published values of oss2's Crc64 (docs in shared research, cross-checked there with a bitwise CRC).
@Suite struct CRC64Tests {
    @Test func knownValues() {
        #expect(CRC64.checksum([]) == 0)
        #expect(CRC64.checksum(Array("123456789".utf8)) == 11_051_210_869_376_104_954)
        #expect(CRC64.checksum(Array("hello world".utf8)) == 5_981_764_153_023_615_706)
        #expect(CRC64.checksum([UInt8](repeating: 0, count: 1 << 20)) == 6_947_770_692_288_575_170)
        #expect(CRC64.checksum((0..<(1 << 20)).map { UInt8($0 & 0xFF) }) == 12_198_584_541_786_614_250)
    }

    @Test func continuingAndCombining() {
        let first = CRC64.checksum(Array("1234".utf8))
        let second = CRC64.checksum(Array("56789".utf8))
        #expect(first == 14_865_968_487_149_912_872)
        #expect(second == 7_598_038_797_645_275_211)
        #expect(CRC64.combine(first, second, secondLength: 5) == 11_051_210_869_376_104_954)
        var continued = CRC64(continuing: first)
        continued.update(Array("56789".utf8))
        #expect(continued.value == 11_051_210_869_376_104_954)
        let half = CRC64.checksum([UInt8](repeating: 0, count: 512 << 10))
        #expect(half == 2_539_340_353_685_950_307)
        #expect(CRC64.combine(half, half, secondLength: 512 << 10) == 6_947_770_692_288_575_170)
        #expect(CRC64.combine(first, 0, secondLength: 0) == first)
    }

    @Test func unalignedUpdatesAgree() {
        let data = (0..<1000).map { UInt8(($0 * 7919) & 0xFF) }
        var pieces = CRC64()
        var start = 0
        for size in [1, 3, 8, 13, 64, 911] {
            pieces.update(Array(data[start..<min(start + size, data.count)]))
            start += size
        }
        #expect(pieces.value == CRC64.checksum(data))
    }

    /// An upload continuing a whole object copies it server-side in parts with no CRC each;
    /// the first carries the object's CRC and length, so the completed object is still checked.
    @Test func partsCopiedFromAWholeObjectAreCoveredByItsCRC() {
        let object = (0..<3000).map { UInt8(($0 * 31) & 0xFF) }
        let appended = (0..<700).map { UInt8(($0 * 17 + 5) & 0xFF) }
        let whole = CRC64.checksum(object + appended)
        var parts = [
            UploadedPart(partNumber: 1, etag: "a", size: 1500),
            UploadedPart(partNumber: 2, etag: "b", size: 1500),
            UploadedPart(partNumber: 3, etag: "c", size: 700, crc64: CRC64.checksum(appended)),
        ]
        #expect(HTTPObjectStore.combinedCRC(parts: parts) == nil)
        parts[0].crc64 = CRC64.checksum(object)
        parts[0].crc64Span = 3000
        parts[1].crc64Span = 0
        #expect(HTTPObjectStore.combinedCRC(parts: parts) == whole)
        // A run that does not cover its parts (a later one missing) checks nothing wrong.
        parts[1].crc64Span = nil
        #expect(HTTPObjectStore.combinedCRC(parts: parts) == nil)
    }
}
