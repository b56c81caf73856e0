import Testing
import TestSupport
@testable import OSSVFS

/// `ossftp cp`'s part size: a file the requested parts cannot cover in the store's 10,000 gets
/// larger parts, as `aws s3 cp` does, rather than a refusal ("invalid name") for any file over
/// 78 GiB at the default 8 MiB.
@Suite struct ObjectTransferTests {
    @Test func aFileTooLargeForTheRequestedPartsGetsLargerOnes() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        _ = try folder.make("bucket")
        let store = try LocalStore(root: folder.path, bucket: "bucket")
        let eight = 8 << 20
        #expect(try ObjectTransfer.partSize(for: 1 << 30, atLeast: eight, store: store, path: "f") == UInt64(eight))
        // 100 GiB in 10,000 parts: 10,486 KiB each at least, rounded up to 11 MiB.
        let raised = try ObjectTransfer.partSize(for: 100 << 30, atLeast: eight, store: store, path: "f")
        #expect(raised == 11 << 20)
        #expect((UInt64(100 << 30) + raised - 1) / raised <= 10_000)
        // Beyond 10,000 parts of 5 GiB, too large for any store.
        #expect(throws: ObjectStoreError.self) {
            try ObjectTransfer.partSize(for: 60 << 40, atLeast: eight, store: store, path: "f")
        }
        #expect(VFSError(ObjectStoreError.service(status: 400, code: "EntityTooLarge", message: "", requestID: nil), path: "f")
            == .tooLarge("f: the store takes no object this large (EntityTooLarge)"))
    }
}
