import OSSVFS
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

    /// A store's refusal for good is 550, not 451 "try again"; a store's message that ends in
    /// a full stop does not get a second one.
    @Test func storeErrorsReplyByWhetherAskingAgainHelps() {
        #expect(FTPReply(VFSError.storeRefused("InvalidArgument: Bad part.")).lines == ["Refused by the store: InvalidArgument: Bad part."])
        #expect(FTPReply(VFSError.storeRefused("InvalidArgument: Bad part.")).code == .fileUnavailable)
        #expect(FTPReply(VFSError.storeUnavailable("SlowDown: Please reduce your request rate.")).lines
            == ["Storage unavailable, try again: SlowDown: Please reduce your request rate."])
        #expect(FTPReply(VFSError.storeUnavailable("SlowDown")).code == .localError)
        #expect(FTPReply(VFSError.unsupported("/f: the store does not implement this (NotImplemented)")).code == .fileUnavailable)
    }

    @Test func pathRepliesDoubleQuotes() {
        #expect(FTPReply.pathReply("/a\"b", "created.").lines == ["\"/a\"\"b\" created."])
    }
}
