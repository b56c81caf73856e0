/// CRC-64/XZ ("ECMA-182 reflected"), the checksum OSS returns in `x-oss-hash-crc64ecma`:
/// polynomial 0x42F0E1EBA9EA3693 reflected, initial value and final xor all ones.
///
/// `combine` joins the CRCs of two adjacent pieces without their bytes (zlib's GF(2) method),
/// so parts uploaded in parallel can be checked against the whole object.
public struct CRC64: Sendable, Equatable {
    /// The CRC of everything added so far.
    public private(set) var value: UInt64

    static let reflectedPolynomial: UInt64 = 0xC96C_5795_D787_0F42

    // Slicing-by-8 tables: table[0] is the classic byte table.
    static let tables: [[UInt64]] = {
        var tables = [[UInt64]](repeating: [UInt64](repeating: 0, count: 256), count: 8)
        for byte in 0..<256 {
            var crc = UInt64(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ reflectedPolynomial : crc >> 1 }
            tables[0][byte] = crc
        }
        for byte in 0..<256 {
            var crc = tables[0][byte]
            for slice in 1..<8 {
                crc = tables[0][Int(crc & 0xFF)] ^ (crc >> 8)
                tables[slice][byte] = crc
            }
        }
        return tables
    }()

    /// A CRC continuing from `value` (0 for a new one; the CRC of A to go on with A‖B).
    public init(continuing value: UInt64 = 0) {
        self.value = value
    }

    /// Adds bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var crc = ~value
        let tables = Self.tables
        var index = 0
        let count = bytes.count
        tables.withUnsafeBufferPointer { t in
            let t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5], t6 = t[6], t7 = t[7]
            while count - index >= 8 {
                var word: UInt64 = 0
                withUnsafeMutableBytes(of: &word) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[index..<index + 8])) }
                crc ^= UInt64(littleEndian: word)
                crc = t7[Int(crc & 0xFF)] ^ t6[Int((crc >> 8) & 0xFF)] ^ t5[Int((crc >> 16) & 0xFF)]
                    ^ t4[Int((crc >> 24) & 0xFF)] ^ t3[Int((crc >> 32) & 0xFF)] ^ t2[Int((crc >> 40) & 0xFF)]
                    ^ t1[Int((crc >> 48) & 0xFF)] ^ t0[Int(crc >> 56)]
                index += 8
            }
            while index < count {
                crc = t0[Int((crc ^ UInt64(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        value = ~crc
    }

    /// Adds bytes.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The CRC of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt64 {
        var crc = CRC64()
        crc.update(bytes)
        return crc.value
    }

    /// The CRC of A‖B from CRC(A), CRC(B) and B's length.
    public static func combine(_ first: UInt64, _ second: UInt64, secondLength: UInt64) -> UInt64 {
        guard secondLength > 0 else { return first }
        // Operator for one zero bit, then squared to get 2, 4, ... zero bits (zlib crc32_combine).
        var odd = [UInt64](repeating: 0, count: 64)
        odd[0] = reflectedPolynomial
        var row: UInt64 = 1
        for n in 1..<64 {
            odd[n] = row
            row <<= 1
        }
        var even = [UInt64](repeating: 0, count: 64)
        square(&even, odd)
        square(&odd, even)
        var crc1 = first
        var length = secondLength
        repeat {
            square(&even, odd)
            if length & 1 == 1 { crc1 = times(even, crc1) }
            length >>= 1
            if length == 0 { break }
            square(&odd, even)
            if length & 1 == 1 { crc1 = times(odd, crc1) }
            length >>= 1
        } while length != 0
        return crc1 ^ second
    }

    private static func times(_ matrix: [UInt64], _ vector: UInt64) -> UInt64 {
        var sum: UInt64 = 0
        var vector = vector
        var index = 0
        while vector != 0 {
            if vector & 1 == 1 { sum ^= matrix[index] }
            vector >>= 1
            index += 1
        }
        return sum
    }

    private static func square(_ result: inout [UInt64], _ matrix: [UInt64]) {
        for n in 0..<64 { result[n] = times(matrix, matrix[n]) }
    }
}
