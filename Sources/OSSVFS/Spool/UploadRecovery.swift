import Foundation

/// Finishes or drops what the journal holds: at start-up for what a previous process left,
/// and in the background for this process's write-back uploads.
public enum UploadRecovery {
    /// Sends the parts still on disk and completes the object; removes the spool files and
    /// the record once the object is stored.
    public static func finish(_ record: UploadRecord, store: any ObjectStore, journal: UploadJournal) async throws {
        var record = record
        let name = WriteBackOrder.name(record.key, in: record.store)
        let sealedAt = record.sealedAt ?? 0
        // The object changes here: never after an upload of the name sealed later was stored
        // (``WriteBackOrder``); those still pending, if sealed earlier, are marked superseded.
        let finished = record
        func commit(_ body: @escaping @Sendable () async throws -> Void) async throws {
            if try await WriteBackOrder.shared.commit(name, sealedAt: sealedAt, body) { await journal.markStored(finished) }
        }
        let (key, metadata, ifAbsent) = (record.key, record.metadata, record.ifAbsent ?? false)
        let contentHeaders = record.contentHeaders ?? [:]
        if let single = record.single {
            try await commit {
                try await store.put(key, body: .file(path: single.path, offset: 0, length: single.size, disposable: true),
                                    metadata: metadata, contentHeaders: contentHeaders,
                                    condition: WriteCondition(ifAbsent: ifAbsent))
            }
        } else {
            guard let uploadID = record.uploadID else {
                // Nothing was ever sent and nothing is on disk: an empty object.
                try await commit {
                    try await store.put(key, body: .bytes([]), metadata: metadata, contentHeaders: contentHeaders,
                                        condition: WriteCondition(ifAbsent: ifAbsent))
                }
                await cleanUp(record, journal: journal)
                return
            }
            do {
                // Parts may have reached the store after the record was last saved: ask it. A
                // part whose file is still here is sent again instead: ListParts does not give
                // the checksums the completion must repeat (S3's CRC-32C) or check (OSS's CRC-64).
                let pending = record.pending
                let onDisk = Set(try await BlockingIO.run {
                    try pending.filter { try PosixFile.status($0.path)?.isRegular == true }.map(\.number)
                })
                for part in try await store.listParts(record.key, uploadID: uploadID)
                where !record.stored.contains(where: { $0.partNumber == part.partNumber })
                    && !onDisk.contains(part.partNumber) {
                    record.stored.append(part)
                }
                for part in record.pending where !record.stored.contains(where: { $0.partNumber == part.number }) {
                    let stored = try await store.uploadPart(
                        record.key, uploadID: uploadID, partNumber: part.number,
                        body: .file(path: part.path, offset: 0, length: part.size, disposable: true))
                    record.stored.append(stored)
                    try await journal.save(record)
                }
                let parts = record.stored.sorted { $0.partNumber < $1.partNumber }
                // Recorded first: only an upload this process asked to complete may be found
                // gone and taken for stored.
                record.completing = true
                try await journal.save(record)
                try await commit {
                    try await store.completeMultipartUpload(key, uploadID: uploadID, parts: parts,
                                                            condition: WriteCondition(ifAbsent: ifAbsent))
                }
            } catch ObjectStoreError.noSuchUpload {
                // A completion was sent (its answer lost, or the run stopped before it could drop
                // the record): the object is there, whole. Gone without one (aborted by someone
                // else), the parts in the store are lost, whatever object has the name; so is a
                // completed object of another size. Said so, and the record dropped (refused
                // for good), not taken for stored.
                // (A record of an earlier version cannot say: taken as sent, as it was.)
                guard record.completing ?? true, let stored = try? await store.head(record.key),
                    stored.size == record.size
                else { throw ObjectStoreError.noSuchUpload(uploadID) }
            }
        }
        await cleanUp(record, journal: journal)
    }

    /// How a write-back upload left the background.
    public enum Outcome: Sendable {
        case stored
        /// The store will never take it (a key that may not write).
        case refused
        /// An upload of the same name sealed later is (or will be) stored instead.
        case superseded
    }

    /// Finishes a write-back upload, trying again (`firstDelay`, doubling to a minute apart)
    /// until it is stored, refused for good, or superseded; the last two are dropped, with a
    /// line in the log. The record stays in the journal until then, for the next start if this
    /// process ends.
    public static func finishEventually(_ record: UploadRecord, store: any ObjectStore, journal: UploadJournal,
                                        firstDelay: Duration) async -> Outcome {
        var delay = firstDelay
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await finish(record, store: store, journal: journal)
                return .stored
            } catch is WriteBackOrder.Superseded {
                VFSMetrics.storeLogger.notice(
                    "dropped the write-back upload of \(record.key) (\(record.size) bytes): a later upload of it replaces it")
                await retire(record, store: store, journal: journal)
                return .superseded
            } catch where isRefusedForGood(error, ifAbsent: record.ifAbsent ?? false) && !isCredentialRefusal(error) {
                // Told the client it was stored, but the store will never take it: say so
                // loudly, and free what it holds rather than keep it forever, blocking every
                // later upload behind its budget.
                let kept = await dropRefused(record, store: store, journal: journal, error: error)
                VFSMetrics.storeLogger.error(
                    "dropped the write-back upload of \(record.key) (\(record.size) bytes): the store refuses it (\(error))\(kept)")
                return .refused
            } catch {
                if attempt == 8 {
                    VFSMetrics.storeLogger.warning(
                        "cannot store the write-back upload of \(record.key) yet (\(error)); trying again every minute")
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(60))
            }
        }
    }

    /// Drops a superseded upload. Until the store is told, the record stays, unsealed (and a
    /// ``UploadJournal/StoredMark`` names it superseded): the next start aborts it rather than
    /// completing it over the newer object.
    static func retire(_ record: UploadRecord, store: any ObjectStore, journal: UploadJournal) async {
        var retired = record
        retired.sealed = false
        try? await journal.save(retired)
        if !(await drop(retired, store: store, journal: journal)) {
            Task { await dropLater(retired, store: store, journal: journal) }
        }
    }

    /// Drops a write-back upload the store refuses for good, while running or at a restart.
    /// Retired, not only dropped: if the store refuses the abort too, the record must no longer
    /// say "stored for the client", or the next start finished it, over a later upload of the
    /// name already stored (the audit's finding). Its bytes leave the spool at once, nothing
    /// will send them again, but are kept aside (``RefusedUploadArchive``): its client was told
    /// they are stored. Returns what the log line says of them.
    static func dropRefused(_ record: UploadRecord, store: any ObjectStore, journal: UploadJournal,
                            error: any Error) async -> String {
        let spool = (journal.directory as NSString).deletingLastPathComponent
        let kept: String
        do {
            let folder = try await BlockingIO.run { try RefusedUploadArchive.keep(record, spool: spool, error: error) }
            kept = folder.map { "; what the spool held of it is kept in \($0)" } ?? "; the spool held none of its bytes"
        } catch let failure {
            kept = "; its bytes could not be kept aside (\(failure))"
        }
        await removeFiles(of: record, journal: journal)
        await retire(record, store: store, journal: journal)
        await WriteBackOrder.shared.done(WriteBackOrder.name(record.key, in: record.store))
        return kept
    }

    /// Asks the store again to drop an upload, then removes its record and files; the record
    /// stays for the next start if the store never took it.
    static func dropLater(_ record: UploadRecord, store: any ObjectStore, journal: UploadJournal) async {
        guard let uploadID = record.uploadID else { return await cleanUp(record, journal: journal) }
        if await abortEventually(record.key, uploadID: uploadID, store: store) { await cleanUp(record, journal: journal) }
    }

    /// Asks the store to abort a multipart upload it could not be told to abort (it was away):
    /// 5 s, then up to a minute apart, for about an hour, so that its parts (unseen, and
    /// billed) do not wait for the next start. True once the store took it, or the upload is
    /// gone already.
    static func abortEventually(_ key: String, uploadID: String, store: any ObjectStore) async -> Bool {
        var delay: Duration = .seconds(5)
        for _ in 0..<64 {
            try? await Task.sleep(for: delay)
            do {
                try await store.abortMultipartUpload(key, uploadID: uploadID)
                return true
            } catch ObjectStoreError.noSuchUpload {
                // Gone already (the store expired it, or another abort came through).
                return true
            } catch {
                delay = min(delay * 2, .seconds(60))
            }
        }
        return false
    }

    /// Whether the store refuses an upload for good (the key may not write, the bucket is gone,
    /// the name is refused, the multipart upload is gone): retrying a write-back upload then
    /// only holds its spool files and budget forever, and with them every later upload of the
    /// server.
    /// `ifAbsent`: the upload may only create its object, and a conflict (an object has the
    /// name) is final; other conflicts (a folder there for now) are retried.
    public static func isRefusedForGood(_ error: any Error, ifAbsent: Bool = false) -> Bool {
        switch error as? ObjectStoreError {
        case .accessDenied?, .invalidCredentials?, .noSuchBucket?, .invalidKey?, .keyTooLong?, .noSuchUpload?:
            return true
        case .conflict?:
            return ifAbsent
        case .service?:
            // As the foreground path answers it (VFSError): a refusal no retry changes (a 4xx
            // or 3xx without a more precise meaning, 501, an object too large) would otherwise
            // be sent again for good, holding its budget.
            switch VFSError(error as! ObjectStoreError, path: "") {
            case .storeRefused, .unsupported, .tooLarge: return true
            default: return false
            }
        default: return false
        }
    }

    /// Whether the store refused the request's signature or key id (not the request itself).
    static func isCredentialRefusal(_ error: any Error) -> Bool {
        if case .invalidCredentials? = error as? ObjectStoreError { return true }
        return false
    }

    /// Aborts the record's multipart upload and removes the record and its files; false (all
    /// kept, for the next start) when the store could not be told, so no upload is forgotten
    /// while it still costs storage.
    @discardableResult
    public static func drop(_ record: UploadRecord, store: (any ObjectStore)?, journal: UploadJournal) async -> Bool {
        if let uploadID = record.uploadID {
            guard let store else { return false }
            do {
                try await store.abortMultipartUpload(record.key, uploadID: uploadID)
            } catch ObjectStoreError.noSuchUpload {
                // Already gone: nothing left to abort.
            } catch {
                return false
            }
        }
        await cleanUp(record, journal: journal)
        return true
    }

    static func cleanUp(_ record: UploadRecord, journal: UploadJournal) async {
        await removeFiles(of: record, journal: journal)
        await journal.remove(record.name, writeBackName: WriteBackOrder.name(record.key, in: record.store))
    }

    /// Removes the upload's spool files (its parts), keeping its record.
    static func removeFiles(of record: UploadRecord, journal: UploadJournal) async {
        let spool = (journal.directory as NSString).deletingLastPathComponent
        let prefix = "upload-\(record.name)-"
        _ = try? await BlockingIO.run {
            for entry in (try DirectoryOps.entries(of: spool)) ?? [] where entry.name.hasPrefix(prefix) {
                try? DirectoryOps.unlinkIfPresent("\(spool)/\(entry.name)")
            }
        }
    }

    /// What a restarted process does with the records it finds: uploads the client was told
    /// are done (write-back) are finished; the others are aborted, leaving nothing behind.
    /// Returns (finished, dropped, failed) counts.
    public static func recover(journal: UploadJournal, transport: CurlTransport,
                               log: @Sendable (String) -> Void) async -> (finished: Int, dropped: Int, failed: Int) {
        await recover(await prepare(journal: journal), journal: journal, transport: transport, log: log)
    }

    /// What must happen before this run's first upload: the journal read, leftovers removed,
    /// and the order of write-back uploads of each name known (``WriteBackOrder``), so that a
    /// new upload is sealed after those of the previous run whatever the clocks said.
    public static func prepare(journal: UploadJournal) async -> [UploadRecord] {
        let (records, unreadable) = (try? await journal.readAll()) ?? ([], [])
        for path in unreadable {
            VFSMetrics.storeLogger.error(
                "the upload journal's record \(path) cannot be read; the spool's unrecorded files are kept until it is removed")
        }
        // Spool files of uploads nobody recorded (a one-part upload cut short) are just removed;
        // not while a record cannot be read: they may be its upload's, told stored.
        let known = Set(records.map { "upload-\($0.name)-" })
        let spool = (journal.directory as NSString).deletingLastPathComponent
        let journalFolder = journal.directory
        let clearsUnrecorded = unreadable.isEmpty
        _ = try? await BlockingIO.run {
            for entry in (try DirectoryOps.entries(of: spool)) ?? [] where entry.name.hasPrefix("upload-") && clearsUnrecorded {
                if !known.contains(where: { entry.name.hasPrefix($0) }) {
                    try? DirectoryOps.unlinkIfPresent("\(spool)/\(entry.name)")
                }
            }
            // Saves cut short (a full disk, a kill) before their rename.
            for entry in (try DirectoryOps.entries(of: journalFolder)) ?? [] where entry.name.contains(".json.tmp-") {
                try? DirectoryOps.unlinkIfPresent("\(journalFolder)/\(entry.name)")
            }
        }
        for (_, mark) in await journal.marks() {
            await WriteBackOrder.shared.storedEarlier(mark.name, at: mark.sealedAt)
        }
        await journal.removeMarks(notNeededBy: records)
        for record in records where record.writeBack && record.sealed {
            await WriteBackOrder.shared.sealedEarlier(WriteBackOrder.name(record.key, in: record.store),
                                                      at: record.sealedAt ?? 0)
        }
        return records
    }

    /// Finishes or drops `records` (from ``prepare(journal:)``).
    public static func recover(_ records: [UploadRecord], journal: UploadJournal, transport: CurlTransport,
                               log: @Sendable (String) -> Void) async -> (finished: Int, dropped: Int, failed: Int) {
        var counts = (finished: 0, dropped: 0, failed: 0)
        // Said first: finishing them may take long over a slow link, and the clients were told
        // they are stored.
        for record in records where record.writeBack && record.sealed {
            log("finishing the write-back upload of \(record.key) (\(record.size) bytes) left by a previous run")
        }
        for record in records {
            let store = try? record.store.makeStore(transport: transport)
            if record.writeBack && record.sealed, let store {
                do {
                    try await finish(record, store: store, journal: journal)
                    log("finished the write-back upload of \(record.key) (\(record.size) bytes) left by a previous run")
                    counts.finished += 1
                } catch is WriteBackOrder.Superseded {
                    await retire(record, store: store, journal: journal)
                    log("dropped the write-back upload of \(record.key) left by a previous run: a later upload of it replaces it")
                    counts.dropped += 1
                } catch where isCredentialRefusal(error) {
                    // The credentials it was uploaded with are refused now (rotated, revoked):
                    // kept, files and all, and tried again, rather than dropped after its client
                    // was told it is stored. Restoring those credentials lets it finish.
                    VFSMetrics.storeLogger.error(
                        "cannot finish the write-back upload of \(record.key) (\(record.size) bytes): the store refuses the credentials it was uploaded with (\(error)); kept, and tried again (at most a minute apart)")
                    counts.failed += 1
                    Task { _ = await finishEventually(record, store: store, journal: journal, firstDelay: .seconds(5)) }
                } catch where isRefusedForGood(error, ifAbsent: record.ifAbsent ?? false) {
                    let kept = await dropRefused(record, store: store, journal: journal, error: error)
                    VFSMetrics.storeLogger.error(
                        "dropped the write-back upload of \(record.key) (\(record.size) bytes) left by a previous run: the store refuses it (\(error))\(kept)")
                    counts.dropped += 1
                } catch {
                    // Told to its client as stored: tried again while this process runs (it
                    // waited for the next start, and a newer upload of the name in between
                    // was then overwritten by it).
                    log("could not finish the write-back upload of \(record.key) yet: \(error); trying again in the background")
                    counts.failed += 1
                    Task { _ = await finishEventually(record, store: store, journal: journal, firstDelay: .seconds(5)) }
                }
            } else if await drop(record, store: store, journal: journal) {
                log("dropped the unfinished upload of \(record.key) left by a previous run")
                counts.dropped += 1
            } else {
                log("could not abort the unfinished upload of \(record.key) left by a previous run; kept for the next start")
                counts.failed += 1
            }
        }
        return counts
    }
}
