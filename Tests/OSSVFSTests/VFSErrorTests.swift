import Testing
@testable import OSSVFS

@Suite struct VFSErrorTests {
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

    /// What was done stays in the text when it names no file.
    @Test func anOperationThatNamesNoFileIsKept() {
        let error = VFSError(.io(operation: "read: object shrank while being read", errno: 5), path: "/f")
        #expect(error == .storeFailure("/f: read: object shrank while being read (errno 5)"))
        #expect(VFSError(.io(operation: "write /srv/spool/x", errno: 5), path: "/f")
            == .storeFailure("/f: write failed on the server's disk (errno 5)"))
    }
}
