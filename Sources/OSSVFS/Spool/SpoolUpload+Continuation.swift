/// The commit of an upload that continues an object (``UploadBase``): it takes place only over
/// the version continued, so that another client's upload stored meanwhile is not replaced.
extension SpoolUpload {
    /// What the commit requires of the key: nothing there for an account that may not replace
    /// files; else, for an upload that continues an object, still that version.
    var commitCondition: WriteCondition {
        ifAbsent ? .absent : continued?.commitCondition ?? .none
    }

    /// The write that commits the upload, just after a last look at the continued object (the
    /// store checks the condition again as it writes, where it can). A refused condition on a
    /// continuation tells the client to send again, as the look does.
    func finalWrite(_ write: @Sendable () async throws -> Void) async throws {
        guard let continued else { return try await write() }
        try await continued.checkUnchanged(in: store)
        do {
            try await write()
        } catch let error as ObjectStoreError where error.isConditionRefusal {
            throw continued.changedError
        }
    }

    /// Reads the continued object into the spool. A body that breaks is asked for again from
    /// where it broke, pinned to the same version, a few times without progress: one broken
    /// connection failed a REST STOR or an APPE (the store client retries only the request's
    /// start).
    func readIntoSpool(_ base: UploadBase) async throws {
        var read: UInt64 = 0
        var breaksLeft = Self.readBackBreaks
        while read < base.length {
            do {
                let stream = try await store.get(base.key, range: .closed(read, base.length - 1), ifMatch: base.etag)
                for try await chunk in stream {
                    try await append([chunk])
                    read += UInt64(chunk.count)
                    breaksLeft = Self.readBackBreaks
                }
                return
            } catch ObjectStoreError.changed {
                // Replaced since the continuation began: the client sends again, as when the
                // commit finds it (not 451, which says the bytes read were wrong).
                throw base.changedError
            } catch ObjectStoreError.transport where breaksLeft > 0 {
                breaksLeft -= 1
            }
        }
    }

    /// Breaks of the read-back in a row, with no byte between, that are asked for again.
    static var readBackBreaks: Int { 3 }
}
