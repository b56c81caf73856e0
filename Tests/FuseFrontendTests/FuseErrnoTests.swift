import CFuse3
import OSSVFS
import Testing
@testable import FuseFrontend

@Suite struct FuseErrnoTests {
    @Test func everyErrorHasItsErrno() {
        #expect(FuseErrno.code(for: .notFound("/x")) == ENOENT)
        #expect(FuseErrno.code(for: .directoryNotEmpty("/d")) == ENOTEMPTY)
        #expect(FuseErrno.code(for: .nameTooLong("k")) == ENAMETOOLONG)
        #expect(FuseErrno.code(for: .unsupported("link")) == ENOTSUP)
        #expect(FuseErrno.code(for: .noSpace("spool")) == ENOSPC)
    }

    @Test func linksAgainstLibfuse3() {
        #expect(FuseLibrary.version >= 300)
    }
}
