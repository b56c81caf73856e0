import Testing
@testable import OSSVFS

@Suite struct VFSErrorTests {
    /// An archived object (not restored) and an object too large for the store were 451,
    /// "try again", which no retry could change.
    /// Out of descriptors was "open failed on the server's disk (errno 24)".
    @Test func runningShortOfFilesOrMemoryIsTransientAndSaysSo() {
        #expect(VFSError(.io(operation: "open /srv/spool/upload-1", errno: 24), path: "/f3.bin")
            == .storeUnavailable("/f3.bin: the server has too many files open"))
        #expect(VFSError(.io(operation: "open /srv/spool/upload-1", errno: 23), path: "/f")
            == .storeUnavailable("/f: the server has too many files open"))
        #expect(VFSError(.io(operation: "write", errno: 12), path: "/f") == .storeUnavailable("/f: the server is short of memory"))
    }

    @Test func refusalsNoRetryChangesAreNotTransient() {
        let archived = ObjectStoreError.service(status: 403, code: "InvalidObjectState", message: "archived", requestID: nil)
        #expect(VFSError(archived, path: "/cold.bin") == .permissionDenied("/cold.bin is archived: restore it first (InvalidObjectState)"))
        let large = ObjectStoreError.service(status: 400, code: "EntityTooLarge", message: "too large", requestID: nil)
        guard case .tooLarge = VFSError(large, path: "/big.iso") else { Issue.record("EntityTooLarge is not tooLarge"); return }
    }

    /// A store's refusal that no retry changes was `storeFailure`, answered 451 "try again":
    /// lftp sent the whole file again up to 1,000 times. Only the 4xx a later request may not
    /// meet stay transient.
    @Test func aStoresRefusalsAreForGoodUnlessTheyMayPass() {
        func mapped(_ status: Int, _ code: String) -> VFSError {
            VFSError(.service(status: status, code: code, message: "said.", requestID: nil), path: "/f")
        }
        #expect(mapped(400, "InvalidArgument") == .storeRefused("InvalidArgument: said."))
        #expect(mapped(301, "PermanentRedirect") == .storeRefused("PermanentRedirect: said."))
        #expect(mapped(403, "QuotaExceeded") == .noSpace("the store is full (QuotaExceeded: said.)"))
        #expect(mapped(403, "SignatureDoesNotMatchNot") == .storeRefused("SignatureDoesNotMatchNot: said."))
        #expect(mapped(501, "NotImplemented") == .unsupported("/f: the store does not implement this (NotImplemented)"))
        #expect(mapped(413, "HTTP413") == .tooLarge("/f: the store takes no request this large (HTTP413)"))
        #expect(mapped(507, "InsufficientStorage") == .noSpace("the store is full (InsufficientStorage: said.)"))
        #expect(mapped(503, "XMinioStorageFull") == .noSpace("the store is full (XMinioStorageFull: said.)"))
        for (status, code) in [(400, "RequestTimeout"), (409, "OperationAborted"), (503, "SlowDown"), (500, "InternalError"),
                               (429, "TooManyRequests"), (400, "BadDigest"), (409, "PriorRequestNotComplete"),
                               (307, "TemporaryRedirect"), (408, "HTTP408"), (425, "HTTP425")] {
            #expect(mapped(status, code) == .storeUnavailable("\(code): said."), "\(status) \(code)")
        }
        // An answer that said success but could not be used stays a failure that may pass
        // (S3 answers a copy that failed midway 200 with an InternalError document).
        #expect(mapped(200, "InternalError") == .storeUnavailable("InternalError: said."))
        #expect(mapped(200, "InvalidRangeAnswer") == .storeFailure("InvalidRangeAnswer: said."))
        // Write-back's recovery gives up on the same refusals, and goes on trying the others.
        for (status, code) in [(400, "InvalidArgument"), (301, "PermanentRedirect"), (501, "NotImplemented"), (413, "HTTP413")] {
            #expect(UploadRecovery.isRefusedForGood(ObjectStoreError.service(status: status, code: code, message: "", requestID: nil)))
        }
        for (status, code) in [(503, "SlowDown"), (307, "TemporaryRedirect"), (507, "InsufficientStorage"), (400, "RequestTimeout")] {
            #expect(!UploadRecovery.isRefusedForGood(ObjectStoreError.service(status: status, code: code, message: "", requestID: nil)))
        }
        // The store's message was spliced in as if it were the upload's id.
        #expect(VFSError(.noSuchUpload("The specified upload does not exist."), path: "/f")
            == .storeFailure("/f: the store no longer has the multipart upload (NoSuchUpload)"))
    }

    /// A store error reaches the client named by the client's path: keys under an account's
    /// home folder and the server's own files (spool, local store folder) stay out of it.
    @Test func storeErrorsNameTheClientsPathOnly() {
        let path = "/photo.jpg"
        let errors: [ObjectStoreError] = [
            .conflict("users/alice/photo.jpg exists"),
            .changed("users/alice/photo.jpg"),
            .io(operation: "write /srv/ossftp/spool/upload-1f-2", errno: 5),
            .io(operation: "rename /srv/data/bucket/.ossftp-tmp/ab12", errno: 13),
            .io(operation: "/srv/data/bucket/users/alice/photo.jpg changed while it was being copied", errno: 5),
        ]
        for error in errors {
            let text = VFSError(error, path: path).detail
            #expect(!text.contains("users/alice") && !text.contains("/srv"), "\(text)")
            #expect(text.contains(path), "\(text)")
        }
        #expect(VFSError(.conflict("users/alice/photo.jpg exists"), path: path) == .alreadyExists(path))
    }

    /// libcurl's messages name the store's host and port: a client hears what happened only.
    @Test func transportFailuresNameNoAddress() {
        let refused = ObjectStoreError.transport(
            "transport error 7: Failed to connect to 10.1.2.3 port 9000 after 0 ms: Couldn't connect to server", curlCode: 7)
        #expect(VFSError(refused, path: "/f") == .storeUnavailable("cannot connect to the store"))
        let timedOut = ObjectStoreError.transport(
            "transport error 28: Operation too slow. Less than 1 bytes/sec transferred the last 20 seconds", curlCode: 28)
        #expect(VFSError(timedOut, path: "/f") == .storeUnavailable("the store did not answer in time"))
        // ossftp's own words name nothing of the kind, and stay.
        #expect(VFSError(.transport("the store's answer ended after 5 of 9 bytes"), path: "/f")
            == .storeUnavailable("the store's answer ended after 5 of 9 bytes"))
    }

    /// What was done stays in the text when it names no file.
    @Test func anOperationThatNamesNoFileIsKept() {
        let error = VFSError(.io(operation: "read: object shrank while being read", errno: 5), path: "/f")
        #expect(error == .storeFailure("/f: read: object shrank while being read (errno 5)"))
        #expect(VFSError(.io(operation: "write /srv/spool/x", errno: 5), path: "/f")
            == .storeFailure("/f: write failed on the server's disk (errno 5)"))
        // EFBIG (a file-size limit on the server's disk) is for good: 552, not 451.
        #expect(VFSError(.io(operation: "write /srv/spool/x", errno: 27), path: "/f")
            == .tooLarge("/f is larger than the server's disk takes"))
    }

    /// A folder of the local store removed by another session while a file was being written
    /// into it: 451 "try again" (errno 2) for 377 of 1,550 such uploads, where one that found
    /// the folder missing at the start got 550.
    @Test func aFolderGoneMidwayIsNotFoundForGood() {
        let error = VFSError(.io(operation: "open /srv/root/bkt/d/f", errno: 2), path: "/d/f")
        #expect(error == .notFound("/d/f"))
    }
}
