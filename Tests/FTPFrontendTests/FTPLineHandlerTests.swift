import NIOCore
import NIOEmbedded
import Testing
@testable import FTPFrontend

@Suite struct FTPLineHandlerTests {
    func lines(_ channel: EmbeddedChannel) throws -> [String] {
        var out: [String] = []
        while let line = try channel.readInbound(as: FTPControlLine.self) {
            if case .line(let bytes) = line { out.append(String(decoding: bytes, as: UTF8.self)) }
        }
        return out
    }

    @Test func linesSplitAcrossReadsAreJoinedOneByteAtATime() throws {
        let channel = EmbeddedChannel(handler: FTPLineHandler())
        for byte in Array("USER a\r\nPASS b\nNO".utf8) {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        #expect(try lines(channel) == ["USER a", "PASS b"])
        try channel.writeInbound(ByteBuffer(string: "OP\r\n"))
        #expect(try lines(channel) == ["NOOP"])
    }

    @Test func aPartialPlaintextLineIsForgottenWhenTLSStarts() throws {
        let channel = EmbeddedChannel(handler: FTPLineHandler())
        try channel.writeInbound(ByteBuffer(string: "AUTH TLS\r\nDELE x"))
        #expect(try lines(channel) == ["AUTH TLS"])
        channel.pipeline.fireUserInboundEventTriggered(TLSHandshakeCompleted(resumed: false))
        try channel.writeInbound(ByteBuffer(string: "USER alice\r\n"))
        #expect(try lines(channel) == ["USER alice"])
    }
}
