import NIOCore
import Testing
@testable import FTPFrontend

@Suite struct FTPLineDecoderTests {
    /// Feeds `input` one byte at a time and collects every framed line.
    func decodeByteByByte(_ input: [UInt8], maxLength: Int = 16) throws -> [FTPControlLine] {
        var decoder = FTPLineDecoder(maxLength: maxLength)
        var buffer = ByteBuffer()
        var lines: [FTPControlLine] = []
        for byte in input {
            buffer.writeInteger(byte)
            while let line = decoder.decodeLine(&buffer) { lines.append(line) }
        }
        return lines
    }

    @Test func framesCRLFAndBareLF() throws {
        let lines = try decodeByteByByte(Array("USER a\r\nPASS b\nNOOP\r\n".utf8))
        #expect(lines == [.line(Array("USER a".utf8)), .line(Array("PASS b".utf8)), .line(Array("NOOP".utf8))])
    }

    @Test func keepsInnerSpacesAndBytes() throws {
        let lines = try decodeByteByByte([0x4D, 0x4B, 0x44, 0x20, 0xFF, 0x20, 0x20, 0x0A])
        #expect(lines == [.line([0x4D, 0x4B, 0x44, 0x20, 0xFF, 0x20, 0x20])])
    }

    @Test func overlongLinesAreReportedOnceAndTheStreamRecovers() throws {
        let flood = [UInt8](repeating: 0x41, count: 100)
        let lines = try decodeByteByByte(flood + Array("\r\nNOOP\r\n".utf8))
        #expect(lines == [.overlong, .line(Array("NOOP".utf8))])
    }

    @Test func overlongLineInOneChunkIsRefused() throws {
        var decoder = FTPLineDecoder(maxLength: 8)
        var buffer = ByteBuffer(bytes: Array("STOR 0123456789\r\nPWD\r\n".utf8))
        #expect(decoder.decodeLine(&buffer) == .overlong)
        #expect(decoder.decodeLine(&buffer) == .line(Array("PWD".utf8)))
        #expect(decoder.decodeLine(&buffer) == nil)
    }
}
