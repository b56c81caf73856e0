import Foundation

/// Write-back: the client is told a file is stored once every byte is synced in the spool;
/// the parts go to the store in the background, and the journal keeps what a restart needs.
extension SpoolUpload {
    /// Puts every byte in a synced spool file and records what is left to send, then lets the
    /// client go; the rest happens in the background (or after a restart).
    func sealForWriteBack() async throws {
        try await startFromBase()
        if partFile == nil && pendingFirst == nil && uploadID == nil {
            // Even a tiny file must be on disk before the client is told it is stored.
            try await openPart()
        }
        try await flush()
        try await sealPart()
        // A part that failed while the client sent has no file left to send again: the upload
        // fails here, before the client is told it is stored.
        if inFlight.contains(where: \.freed) {
            throw VFSError.storeUnavailable("\(shown): a part could not be stored")
        }
        // An append's kept bytes are copied inside the store (UploadPartCopy): no file here could
        // send them again, so the client is told the file is stored only once they are. (Left
        // to the background, a lost copy was completed without: the file cut to the new bytes.)
        for part in inFlight where part.path == nil {
            switch await part.task.result {
            case .success(let copied): finishedParts[copied.partNumber] = copied
            case .failure(let error): throw (error as? ObjectStoreError).map { VFSError($0, path: shown) } ?? error
            }
        }
        if uploadID == nil { try await checkStoreTakesKey() }
        // Parts the store already took are recorded as stored: their files are gone.
        let pending = inFlight.filter { finishedParts[$0.number] == nil }.compactMap { part in
            part.path.map { UploadRecord.PendingPart(number: part.number, path: $0, size: UInt64(part.size)) }
        }
        let single = pendingFirst.map { UploadRecord.PendingPart(number: 1, path: $0.path, size: UInt64($0.size)) }
        let size = total
        let storedSoFar = stored + finishedParts.values.sorted { $0.partNumber < $1.partNumber }
        heldBudget = inFlight.reduce(0) { $0 + $1.reserved } + (pendingFirst?.reserved ?? 0)
        let orderName = WriteBackOrder.name(key, in: store.descriptor)
        let sealedAt = await WriteBackOrder.shared.seal(orderName)
        do {
            try await updateRecord {
                $0.pending = pending
                $0.single = single
                $0.stored = storedSoFar
                $0.size = size
                $0.sealed = true
                $0.sealedAt = sealedAt
            }
        } catch {
            await WriteBackOrder.shared.done(orderName)
            throw error
        }
        state = .committed
        Task { await self.finishWriteBack() }
    }

    /// An upload that has not reached the store yet (it fits in one part): asks the store to
    /// start a multipart upload of the key, and abandons it at once, before the client is told
    /// the file is stored. A key that may not write (a read-only access key, a policy on the
    /// prefix, a bucket gone) is refused here, and the client gets its error instead of a 226
    /// for a file that would be dropped later. A store that cannot be reached, or does not
    /// answer within `writeBackProbeTimeout`, is what write-back is for: the upload goes on to
    /// the background.
    private func checkStoreTakesKey() async throws {
        let (store, key, metadata, contentHeaders) = (self.store, self.key, self.metadata, self.contentHeaders)
        let outcome = await TimeLimit.outcome(within: Self.writeBackProbeTimeout) {
            let probe = try await store.createMultipartUpload(key, metadata: metadata, contentHeaders: contentHeaders)
            Task { try? await store.abortMultipartUpload(key, uploadID: probe) }
        }
        // No answer in time, or one that may change (the store unreachable): the 226 follows.
        if case .failure(let error)? = outcome, UploadRecovery.isRefusedForGood(error) { throw error }
    }

    /// How long a write-back upload waits for the store to say whether it takes the key.
    static let writeBackProbeTimeout: Duration = .seconds(5)

    /// Sends what the record says is left, retrying with backoff (at most a minute apart) until
    /// it is stored; an upload the store refuses for good is dropped, with an error in the log.
    /// The record stays in the journal until then, for the next start if this process ends.
    func finishWriteBack() async {
        for part in inFlight {
            if case .success(let stored) = await part.task.result {
                if record?.stored.contains(where: { $0.partNumber == stored.partNumber }) == false {
                    record?.stored.append(stored)
                }
                heldBudget -= part.reserved
            }
        }
        inFlight = []
        guard let journal = configuration.journal, var current = record else { return }
        current.pending.removeAll { part in current.stored.contains { $0.partNumber == part.number } }
        // Retried until stored or refused for good: giving up here would hold its budget until
        // a restart, and with it, once enough such uploads piled up, every later upload.
        let outcome = await UploadRecovery.finishEventually(current, store: store, journal: journal, firstDelay: .seconds(1))
        await configuration.budget.release(heldBudget)
        heldBudget = 0
        if case .stored = outcome { await onCommit() }
    }

    /// The store took a part. Once the client was told the file is stored, the journal
    /// records it (with its checksum) before the part's file is removed.
    func partStored(_ part: UploadedPart) async {
        finishedParts[part.partNumber] = part
        // From the seal on (the record in memory is sealed before its save is awaited).
        guard configuration.writeBack, record?.sealed == true else { return }
        try? await updateRecord { record in
            if !record.stored.contains(where: { $0.partNumber == part.partNumber }) { record.stored.append(part) }
            record.pending.removeAll { $0.number == part.partNumber }
        }
    }
}
