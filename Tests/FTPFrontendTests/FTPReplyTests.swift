import Testing
@testable import FTPFrontend

@Suite struct FTPReplyTests {
    @Test func singleAndMultiLine() {
        #expect(String(decoding: FTPReply(.ok, "fine").encoded(), as: UTF8.self) == "200 fine\r\n")
        let multi = FTPReply(.systemStatus, lines: ["Features:", " SIZE", "211 sneaky", "End"])
        #expect(String(decoding: multi.encoded(), as: UTF8.self) == "211-Features:\r\n SIZE\r\n 211 sneaky\r\n211 End\r\n")
    }

    @Test func lineBreaksCannotForgeReplies() {
        let reply = FTPReply(.fileUnavailable, "a\r\n230 b")
        #expect(String(decoding: reply.encoded(), as: UTF8.self) == "550 a  230 b\r\n")
    }

    @Test func pathRepliesDoubleQuotes() {
        #expect(FTPReply.pathReply("/a\"b", "created.").lines == ["\"/a\"\"b\" created."])
    }
}
