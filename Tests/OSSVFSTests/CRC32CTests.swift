import Testing
@testable import OSSVFS

/// CRC-32C against the test vectors of RFC 3720 (iSCSI) appendix B.4, and the processor's
/// instruction against the software table.
@Suite struct CRC32CTests {
    @Test func rfc3720Vectors() {
        #expect(CRC32C.checksum([]) == 0)
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func base64IsBigEndian() {
        var crc = CRC32C()
        crc.update(Array("123456789".utf8))
        // 0xE3069283 as bytes E3 06 92 83.
        #expect(crc.base64 == "4waSgw==")
    }

    @Test func instructionAndTableAgree() {
        #expect(CRC32C.hardware, "this machine's processor has a CRC-32C instruction")
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for length in [0, 1, 7, 8, 9, 63, 64, 65, 1000, 4096 + 3] {
            let data = (0..<length).map { _ -> UInt8 in
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(seed >> 56)
            }
            data.withUnsafeBytes { bytes in
                #expect(CRC32C.hardwareUpdate(0, bytes) == CRC32C.softwareUpdate(0, bytes), "length \(length)")
            }
        }
    }

    @Test func unalignedPiecesAgree() {
        let data = (0..<1000).map { UInt8(($0 * 7919) & 0xFF) }
        var pieces = CRC32C()
        var start = 0
        for size in [1, 3, 8, 13, 64, 911] {
            let end = min(start + size, data.count)
            Array(data[start..<end]).withUnsafeBytes { pieces.update($0) }
            start = end
        }
        #expect(pieces.value == CRC32C.checksum(data))
    }
}
