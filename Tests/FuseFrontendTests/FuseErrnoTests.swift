import CFuse3
import OSSVFS
import Testing
@testable import FuseFrontend

@Suite struct FuseErrnoTests {
    /// The table of docs/SEMANTICS.md, row by row.
    @Test(arguments: [
        (VFSError.notFound("/x"), ENOENT), (.alreadyExists("/x"), EEXIST), (.notDirectory("/x"), ENOTDIR),
        (.isDirectory("/x"), EISDIR), (.directoryNotEmpty("/d"), ENOTEMPTY), (.permissionDenied("/x"), EACCES),
        (.invalidName("x"), EINVAL), (.nameTooLong("k"), ENAMETOOLONG), (.invalidRange("x"), EINVAL),
        (.unsupported("link"), ENOTSUP), (.integrity("crc"), EIO), (.noSpace("spool"), ENOSPC),
        (.tooLarge("/x"), EFBIG),
        (.busy("x"), EBUSY), (.storeUnavailable("503"), EIO), (.storeRefused("400"), EIO), (.storeFailure("500"), EIO),
    ])
    func everyErrorHasItsErrno(error: VFSError, errno: Int32) {
        #expect(FuseErrno.code(for: error) == errno)
    }

    @Test func storeErrorsAndChosenErrnosToo() {
        #expect(FuseErrno.code(forAny: ObjectStoreError.noSuchKey("k")) == ENOENT)
        #expect(FuseErrno.code(forAny: ObjectStoreError.accessDenied(requestID: nil)) == EACCES)
        #expect(FuseErrno.code(forAny: FuseError(EXDEV)) == EXDEV)
        #expect(FuseErrno.code(forAny: CancellationError()) == EIO)
        // The local store's file system refusing (immutable, read-only) is no transient failure.
        for code in [EPERM, EACCES, EROFS] {
            #expect(FuseErrno.code(forAny: ObjectStoreError.io(operation: "rename", errno: code)) == EACCES)
        }
        #expect(FuseErrno.code(forAny: ObjectStoreError.io(operation: "write", errno: EDQUOT)) == ENOSPC)
    }

    @Test func linksAgainstLibfuse3() {
        #expect(FuseLibrary.version >= 300)
    }
}
