import CChecksum

/// CRC-32C (Castagnoli: polynomial 0x1EDC6F41 reflected, initial value and final xor all
/// ones), sent as `x-amz-checksum-crc32c` so that an S3 store checks each body it receives.
///
/// It replaces Content-MD5 on S3: MD5 took half of the server's CPU during a 1 GiB upload,
/// while the processor's CRC-32C instruction does the same check about ten times faster.
public struct CRC32C: Sendable, Equatable {
    /// The CRC of everything added so far.
    public private(set) var value: UInt32 = 0

    public init() {}

    static let hardware = cchecksum_crc32c_hardware() != 0

    static let reflectedPolynomial: UInt32 = 0x82F6_3B78

    /// The byte table, for processors without the instruction.
    static let table: [UInt32] = (0..<256).map { byte in
        var crc = UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ reflectedPolynomial : crc >> 1 }
        return crc
    }

    /// Adds bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        value = Self.hardware ? Self.hardwareUpdate(value, bytes) : Self.softwareUpdate(value, bytes)
    }

    static func hardwareUpdate(_ value: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return value }
        return ~cchecksum_crc32c_update(~value, base, bytes.count)
    }

    static func softwareUpdate(_ value: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = ~value
        table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return ~crc
    }

    /// Adds bytes.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The CRC of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// The value as S3 writes it in headers and XML: base64 of its 4 bytes, big-endian.
    public var base64: String {
        Crypto.base64([UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }
}
