/// The first bytes of an existing object that an upload continues (APPE, REST then STOR, a
/// file changed in place through the mount).
public struct UploadBase: Sendable {
    /// The object the bytes come from.
    public var key: String
    /// How many of its first bytes the upload keeps.
    public var length: UInt64
    /// The version continued: another one fails the upload, since its bytes are not the ones
    /// the client continues.
    public var etag: String?
    /// The CRC-64 of the kept bytes, known when they are the whole object on a store that
    /// reports one (OSS). Copied server-side, they carry no CRC of their own: this one lets the
    /// completed object's be checked still.
    public var crc64: UInt64?
    /// The object did not exist (an APPE that creates its file): one made meanwhile by
    /// someone else fails the upload, as a changed version does.
    public var absent: Bool

    public init(key: String, length: UInt64, etag: String?, crc64: UInt64? = nil, absent: Bool = false) {
        self.key = key
        self.length = length
        self.etag = etag
        self.crc64 = crc64
        self.absent = absent
    }

    /// What the commit of an upload continuing this version requires of the key: that it is
    /// still this version (or still absent). S3 checks it as it writes; OSS cannot, and
    /// ``checkUnchanged(in:)`` just before is all there is.
    var commitCondition: WriteCondition {
        if absent { return .absent }
        guard let etag, !etag.isEmpty else { return .none }
        return .matching(etag)
    }

    /// Asks the store, just before the commit, whether the object is still the version the
    /// upload continues. Its first bytes were checked when they were copied, at the upload's
    /// start; bytes another client stored since would otherwise be replaced by a commit that
    /// was to keep every byte. On a store without conditional writes (OSS) that leaves the time
    /// of one request. An object deleted meanwhile is a change too, as S3's If-Match takes it.
    func checkUnchanged(in store: any ObjectStore) async throws {
        let now: ObjectInfo
        do {
            now = try await store.head(key)
        } catch ObjectStoreError.noSuchKey {
            if absent || (etag ?? "").isEmpty { return }
            throw changedError
        }
        let changed = absent || (etag.map { !$0.isEmpty && $0 != now.etag } ?? false)
        guard changed else { return }
        throw changedError
    }

    /// The error of a continuation whose object changed meanwhile.
    var changedError: VFSError {
        // Not named by its key: a client with a home folder knows the file by another name.
        .busy("the file was changed by another client while this upload continued it; send it again")
    }
}
