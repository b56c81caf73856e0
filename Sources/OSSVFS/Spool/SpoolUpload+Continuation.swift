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
}
