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

    /// Reads the continued object into the spool. A body that breaks is read again from its
    /// start, pinned to the same version, three times at most: one broken connection failed a
    /// REST STOR or an APPE (the store client retries only a request's start). From the start,
    /// not from where it broke: a reading of the whole object is checked against its checksum
    /// (a prefix, REST below the size, has none, as before), and the bytes kept from before
    /// the break are compared with the same bytes of the new reading (CRC-64).
    func readIntoSpool(_ base: UploadBase) async throws {
        var appended: UInt64 = 0
        var appendedCRC = CRC64()
        var breaksLeft = Self.readBackBreaks
        while true {
            do {
                let stream = try await store.get(base.key, range: .closed(0, base.length - 1), ifMatch: base.etag)
                var offset: UInt64 = 0
                var again = CRC64()
                for try await chunk in stream {
                    var rest = chunk[...]
                    if offset < appended {
                        let overlap = Int(min(UInt64(chunk.count), appended - offset))
                        again.update(Array(chunk.prefix(overlap)))
                        offset += UInt64(overlap)
                        rest = chunk.dropFirst(overlap)
                        if offset == appended, again.value != appendedCRC.value {
                            throw ObjectStoreError.checksumMismatch(expected: String(appendedCRC.value),
                                                                    actual: String(again.value))
                        }
                    }
                    guard !rest.isEmpty else { continue }
                    let bytes = Array(rest)
                    // The spool's or the upload's own failure (a part that could not start),
                    // not the reading's: never read again over bytes half taken.
                    do { try await append([bytes]) } catch { throw ReadBackAppendFailure(error: error) }
                    appendedCRC.update(bytes)
                    appended += UInt64(bytes.count)
                    offset += UInt64(bytes.count)
                }
                return
            } catch let failure as ReadBackAppendFailure {
                throw failure.error
            } catch ObjectStoreError.changed {
                // Replaced since the continuation began: the client sends again, as when the
                // commit finds it (not 451, which says the bytes read were wrong).
                throw base.changedError
            } catch ObjectStoreError.transport where breaksLeft > 0 {
                breaksLeft -= 1
            }
        }
    }

    /// Broken readings of the continued object that are tried again.
    static var readBackBreaks: Int { 3 }
}

/// A failure to take read-back bytes into the upload, kept apart from the reading's own.
private struct ReadBackAppendFailure: Error {
    let error: any Error
}
