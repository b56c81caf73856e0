#if canImport(Glibc)
import Glibc
#endif

/// One upload staged through the spool and sent as it arrives.
///
/// Bytes gather in a small buffer, then go to a spool file per part. As each part fills it is
/// uploaded while the client keeps sending, up to `concurrency` parts at once; each part's disk
/// space is reserved from the shared ``SpoolBudget`` before it is written and released once the
/// part is stored. When the parts in flight or the budget are used up, `write` waits, and the
/// frontend stops reading its socket: memory and disk stay bounded whatever the file size.
///
/// The multipart upload starts only when a second part begins; a file of one part goes up as
/// one PUT (from memory when it never left the buffer). Nothing is visible before ``commit()``
/// returns. On any failure the multipart upload is aborted and every spool file removed.
///
/// An upload may start from the first bytes of an existing object (FTP REST+STOR and APPE):
/// they are copied server-side as the first parts when the store allows (UploadPartCopy,
/// from 5 MiB on S3), or read back into the spool when smaller.
public actor SpoolUpload: VFSWriter {
    enum State {
        case accepting
        case committing
        case committed
        case aborted
    }

    /// A part written to disk and not yet stored.
    struct SealedPart {
        var number: Int
        var path: String
        var size: Int
        var reserved: Int64
        /// The offset of its first byte in the upload.
        var start: UInt64
    }

    struct InFlight {
        var number: Int
        var task: Task<UploadedPart, any Error>
        var path: String?
        var size: Int
        var reserved: Int64
        /// A failed write-back part whose file and budget already went back (``freeFailedPart(_:)``).
        var freed = false
    }

    let store: any ObjectStore
    let key: String
    /// The file's name in errors.
    let shown: String
    let metadata: [String: String]
    /// Standard headers the object is stored with (a continued file's own).
    let contentHeaders: [String: String]
    /// Whether the commit may only create the object, never replace one.
    let ifAbsent: Bool
    let configuration: SpoolConfiguration
    /// The parts being sent, at most `configuration.concurrency` at once.
    let sendSlots: PartSendSlots
    /// The sizes of the parts after the first, from the store's rate (``PartPacing``).
    let pacing = PartPacing()
    let onCommit: @Sendable () async -> Void
    let name = DirectoryOps.randomName()
    var state = State.accepting
    var base: UploadBase?
    /// The version the upload continues, checked again just before the commit.
    let continued: UploadBase?

    var buffer: [UInt8] = []
    var partFile: PosixFile?
    var partPath: String?
    var partFill = 0
    /// The size at which the part being written is sealed, set as it opens.
    var partLimit = 0
    var partReserved: Int64 = 0
    var nextPartNumber = 1
    var pendingFirst: SealedPart?
    var uploadID: String?
    var inFlight: [InFlight] = []
    var stored: [UploadedPart] = []
    /// Parts the store took that are not collected yet (``partStored(_:)``).
    var finishedParts: [Int: UploadedPart] = [:]
    /// The journal save in progress: saves go one after another, so an older record never
    /// lands after a newer one.
    var lastSave: Task<Result<Void, any Error>, Never>?
    /// Bytes of the upload so far, from its first (a base copied server-side included): the
    /// offsets ``overwrite(_:at:)`` and ``readBack(at:count:)`` take.
    var total: UInt64 = 0
    /// The journal's record of this upload, once there is something a restart must handle.
    var record: UploadRecord?
    /// Budget still held by a write-back upload's files, released once it is stored.
    var heldBudget: Int64 = 0
    /// The store takes spool files as they are (``ObjectStore/adoptsFiles(in:)``, the local
    /// store on the spool's file system). The upload then stays one file, never cut into parts
    /// that would be copied together again, and holds no budget: its bytes already sit where
    /// the store keeps them, and the budget bounds only bytes waiting for a store.
    var adopted = false
    /// Whether the store's disk was asked for room (``requireRoom(for:)``).
    var roomChecked = false
    /// How many of the first bytes are kept in the spool once sent (``keepSentBytes(upTo:)``).
    var retentionLimit: Int64 = 0
    /// Parts sent and still kept in the spool, in order and without gaps from the first part.
    var retained: [RetainedPart] = []
    /// The bytes of the kept parts.
    var retainedBytes: Int64 = 0
    /// The numbers of kept parts patched since they were sent: sent again before the completion.
    var patchedSentParts: Set<Int> = []
    /// The store's record of each part sent again after a patch, which the completion names.
    var resentParts: [Int: UploadedPart] = [:]
    /// Set once a part did not fit the retention: no later part is kept.
    var retentionEnded = false

    /// An upload of `key` (with `metadata` and `contentHeaders`), optionally continuing the first bytes of another
    /// object (``UploadBase``); `onCommit` runs once the object is stored.
    /// With `ifAbsent`, the commit fails with ``VFSError/alreadyExists(_:)`` when an object
    /// has the key by then (an account that may not replace files: one may appear meanwhile).
    /// `shownAs` names the file in errors (the path its client knows; the key by default,
    /// which for an account with a home folder tells of the bucket's other folders).
    public init(store: any ObjectStore, key: String, shownAs: String? = nil, metadata: [String: String] = [:],
                contentHeaders: [String: String] = [:], configuration: SpoolConfiguration, base: UploadBase? = nil,
                ifAbsent: Bool = false, onCommit: @escaping @Sendable () async -> Void = {}) {
        self.store = store
        self.key = key
        self.shown = shownAs ?? key
        self.metadata = metadata
        self.contentHeaders = contentHeaders
        self.ifAbsent = ifAbsent
        self.configuration = configuration
        sendSlots = PartSendSlots(configuration.concurrency)
        self.base = base
        continued = base
        self.onCommit = onCommit
    }

    // MARK: - Writing

    public func write(contentsOf chunks: [any VFSBytes]) async throws {
        guard case .accepting = state else { throw VFSError.storeFailure("upload is no longer accepting data") }
        try await guarded {
            try await startFromBase()
            try await append(chunks)
        }
    }

    // `total` counts bytes once they are in the buffer or in a part file, never while on their
    // way between (writeOut waits for the disk and the budget): a read back or a patch that
    // comes in meanwhile (another descriptor of the mount) places offsets by it, and found
    // them shifted by the bytes in transit.
    func append(_ chunks: [any VFSBytes]) async throws {
        let count = chunks.reduce(0) { $0 + $1.count }
        if !roomChecked && count > 0 {
            roomChecked = true
            try await requireRoom(for: count)
        }
        // Large writes go straight to the part file: no copy into the buffer.
        if buffer.isEmpty && count >= configuration.writeBufferSize {
            try await writeOut(chunks, count: count)
            return
        }
        for chunk in chunks { chunk.withUnsafeBytes { buffer.append(contentsOf: $0) } }
        total += UInt64(count)
        if buffer.count >= configuration.writeBufferSize { try await flush() }
    }

    /// On a store on the local disk, the first bytes of an upload need room there, which a
    /// full disk refuses at once (452, ENOSPC), as a write to the disk itself would: kept in
    /// the buffer, they failed only at the commit, which a shell's `echo > file` on the mount
    /// never hears (it closes the file with dup2, and the kernel drops that close's error),
    /// so the file was left empty with exit status 0. Checked once per upload: a disk that
    /// fills later fails the part file's write or the commit.
    func requireRoom(for count: Int) async throws {
        let store = self.store
        guard store.capabilities.localReads, let free = try await storeIO({ store.freeSpace() }),
            free < UInt64(count)
        else { return }
        throw VFSError.noSpace("\(shown): the store's disk has \(free) bytes free")
    }

    /// Writes the buffer into part files.
    func flush() async throws {
        guard !buffer.isEmpty else { return }
        let bytes = buffer
        buffer = []
        total -= UInt64(bytes.count)
        try await writeOut([bytes], count: bytes.count)
    }

    /// Writes the `count` bytes of `chunks` into part files, sealing each part as it fills.
    func writeOut(_ chunks: [any VFSBytes], count: Int) async throws {
        var start = 0
        while start < count {
            if partFile == nil { try await openPart() }
            let part = nextPartNumber
            let range = start..<(start + min(max(0, partLimit - partFill), count - start))
            try await reserve(upTo: partFill + range.count)
            // The wait for budget may have sealed this part and opened the next (whose limit,
            // paced, can be smaller: a write sized for the first overran it, and the next write
            // found no room and trapped), or another descriptor's truncate may have closed it:
            // what fits is worked out again.
            guard part == nextPartNumber, let file = partFile, partFill + range.count <= partLimit else { continue }
            try await storeIO {
                try chunks.withUnsafeBuffers { try file.writeAll($0, range: range) }
            }
            partFill += range.count
            total += UInt64(range.count)
            start = range.upperBound
            if partFill >= partLimit { try await sealPart() }
        }
    }

    func openPart() async throws {
        // A second part means a multipart upload: start it and send the first part, before
        // waiting for budget (the first part's space comes back once it is stored).
        if let first = pendingFirst {
            pendingFirst = nil
            do {
                try await startMultipart()
            } catch {
                // A store that refuses the upload (a read-only key) must not keep its file and
                // budget: leaked, they ended by blocking every later upload of the server.
                await release(first.reserved, path: first.path)
                throw error
            }
            try await launch(first)
        }
        partReserved = 0
        let path = "\(configuration.directory)/upload-\(name)-\(nextPartNumber)"
        let directory = configuration.directory
        let store = self.store
        let file: PosixFile
        (file, adopted) = try await storeIO { () -> (PosixFile, Bool) in
            // Made again if removed while running: the spool's files are other users' uploads,
            // its folder its owner's alone (0700), as at start.
            try DirectoryOps.makePath(directory, under: "", mode: 0o700)
            return (try PosixFile.createExclusive(path), store.adoptsFiles(in: directory))
        }
        partFile = file
        partPath = path
        partLimit = adopted ? Int.max / 2 : nextPartLimit()
    }

    /// The size of the part about to open: the configured schedule's with write-back, where
    /// the client is not held by the parts; else paced to the store's rate (``PartPacing``).
    func nextPartLimit() -> Int {
        let scheduled = configuration.partSize(forPart: nextPartNumber)
        guard !configuration.writeBack else { return scheduled }
        return pacing.size(ofPart: nextPartNumber, scheduled: scheduled, concurrency: configuration.concurrency,
                           storeMinimum: store.capabilities.minPartSize)
    }

    /// Reserves spool budget for the part file to grow to `size` bytes, a step at a time: a
    /// small upload holds only about what it writes, so many fit the budget together. A part's
    /// first step waits for budget; when a later step finds none, the part is sealed as it is
    /// (a step is at least the store's smallest part) and a new one begins, so uploads holding
    /// budget never all wait on each other.
    func reserve(upTo size: Int) async throws {
        guard !adopted, Int64(size) > partReserved else { return }
        let limit = Int64(partLimit)
        let step = max(Self.reservationStep, Int64(store.capabilities.minPartSize))
        let wanted = min(limit, max(Int64(size), partReserved + step))
        let budget = configuration.budget
        if partReserved > 0 && partFill >= store.capabilities.minPartSize {
            guard await budget.tryReserve(wanted - partReserved) else {
                let needed = size - partFill
                try await sealPart()
                try await openPart()
                return try await reserve(upTo: needed)
            }
        } else {
            try await budget.reserve(wanted - partReserved)
        }
        partReserved = wanted
    }

    /// How much budget a growing part file takes at once.
    static let reservationStep: Int64 = 8 << 20

    func sealPart() async throws {
        guard let file = partFile, let path = partPath else { return }
        let durable = configuration.writeBack
        try await storeIO {
            if durable { try file.sync() }
            try file.close()
        }
        // The part's size is final: the budget it took beyond that goes back now, not once the
        // part is stored (small files waiting for the store held 8 MiB each, and 128 of them
        // of 1 KiB filled the default budget).
        if partReserved > Int64(partFill) {
            await configuration.budget.release(partReserved - Int64(partFill))
            partReserved = Int64(partFill)
        }
        let start = total - UInt64(buffer.count) - UInt64(partFill)
        let sealed = SealedPart(number: nextPartNumber, path: path, size: partFill, reserved: partReserved, start: start)
        partFile = nil
        partPath = nil
        partFill = 0
        partReserved = 0
        nextPartNumber += 1
        if uploadID == nil && sealed.number == 1 {
            pendingFirst = sealed
        } else {
            try await launch(sealed)
        }
    }

    func startMultipart() async throws {
        guard uploadID == nil else { return }
        let id = try await store.createMultipartUpload(key, metadata: metadata, contentHeaders: contentHeaders)
        uploadID = id
        // From here a kill would leave a multipart upload behind: record it first thing.
        try await updateRecord { $0.uploadID = id }
    }

    /// Changes the journal record (made on first use) and saves it.
    func updateRecord(_ change: (inout UploadRecord) -> Void) async throws {
        guard let journal = configuration.journal else { return }
        var current = record ?? UploadRecord(
            name: name, store: store.descriptor, key: key, metadata: metadata,
            contentHeaders: contentHeaders.isEmpty ? nil : contentHeaders, writeBack: configuration.writeBack,
            ifAbsent: ifAbsent ? true : nil)
        change(&current)
        record = current
        let previous = lastSave
        let save = Task { () -> Result<Void, any Error> in
            _ = await previous?.value
            do {
                try await journal.save(current)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        lastSave = save
        try await save.value.get()
    }

    /// Sends a sealed part in the background, waiting first while too many are in flight. The
    /// part's file and budget go back when its upload ends, stored or failed, at once: a writer
    /// waiting for budget must not wait for parts that failed (it would wait forever, the
    /// failure seen only by the next part it sends). In write-back mode a failed part keeps
    /// them: once the client was told the file is stored, the part is sent again from its file
    /// (``finishWriteBack()``); before that, ``collectOldest()`` or ``abort()`` frees them. When
    /// the part cannot be sent (an earlier one failed) they go back here.
    func launch(_ part: SealedPart) async throws {
        let budget = configuration.budget
        let keepsFailed = configuration.writeBack
        // A kept part's file outlives its upload (the abort or the commit removes it); its
        // budget goes back as any part's: the budget bounds bytes waiting for the store.
        let keeps = retain(part)
        do {
            try await launch(number: part.number, path: part.path, size: part.size, reserved: part.reserved, paced: true) {
                [store, key, sendSlots, pacing] id in
                let result: Result<UploadedPart, any Error>
                do {
                    // Cancelled while it waits for its turn, the part goes back below like a
                    // failed one (its file and budget were lost when the wait was outside).
                    let uploaded = try await sendSlots.run {
                        try await pacing.sending(part.size) {
                            try await budget.whileSending {
                                try await store.uploadPart(
                                    key, uploadID: id, partNumber: part.number,
                                    body: .file(path: part.path, offset: 0, length: UInt64(part.size), disposable: !keeps))
                            }
                        }
                    }
                    // Known (and, once the client was told the file is stored, journaled)
                    // before its file goes: a restart cannot send it again, and ListParts does
                    // not give the checksum the completion repeats.
                    await self.partStored(uploaded)
                    result = .success(uploaded)
                } catch {
                    if keepsFailed {
                        await self.freeFailedPart(part.number)
                        throw error
                    }
                    result = .failure(error)
                }
                if !keeps { try? await BlockingIO.run { try DirectoryOps.unlinkIfPresent(part.path) } }
                await budget.release(part.reserved)
                return try result.get()
            }
        } catch {
            await release(part.reserved, path: part.path)
            throw error
        }
    }

    func launch(number: Int, path: String?, size: Int, reserved: Int64, paced: Bool = false,
                _ operation: @escaping @Sendable (String) async throws -> UploadedPart) async throws {
        // With write-back, sealed parts wait for a slot on disk (see PartSendSlots): the spool
        // budget bounds them, which writers wait for as they fill parts. Without it, the
        // client's parts go up as many at once as the store's rate allows within the hold
        // (PartPacing): alone until one has been stored, as the first part (of the configured
        // size) shared with three more held the client for their four times, past WinSCP's
        // 15 s at 16 Mbit/s.
        let waiting: Int
        if configuration.writeBack {
            waiting = Self.writeBackPartsWaiting
        } else if paced {
            let smallest = PartPacing.smallest(scheduled: configuration.partSize, storeMinimum: store.capabilities.minPartSize)
            waiting = pacing.partsAtOnce(configured: configuration.concurrency, smallestPart: smallest)
        } else {
            waiting = configuration.concurrency
        }
        while inFlight.count >= waiting { try await collectOldest() }
        // A write-back part that failed fails the upload now, not after the client sent the
        // rest (its file and budget went back already: freeFailedPart).
        if let index = inFlight.firstIndex(where: \.freed) {
            let failed = inFlight.remove(at: index)
            if case .failure(let error) = await failed.task.result {
                throw (error as? ObjectStoreError).map { VFSError($0, path: shown) } ?? error
            }
        }
        guard let id = uploadID else { preconditionFailure("parts are sent only within a multipart upload") }
        inFlight.append(InFlight(number: number, task: Task { try await operation(id) }, path: path, size: size,
                                 reserved: reserved))
    }

    /// A write-back part failed while the client is still sending: the upload fails anyway (the
    /// next part collected, or the commit, says so), so its file and budget go back now; a
    /// writer waiting for budget behind it would otherwise wait for good. Once the upload is
    /// being committed the part is kept, to be sent again.
    func freeFailedPart(_ number: Int) async {
        guard case .accepting = state, let index = inFlight.firstIndex(where: { $0.number == number }),
            !inFlight[index].freed, let path = inFlight[index].path
        else { return }
        inFlight[index].freed = true
        await release(inFlight[index].reserved, path: path)
    }

    /// Waits for the oldest part in flight (which freed its file and budget as it ended, but in
    /// write-back mode when it failed); a failure ends the upload.
    func collectOldest() async throws {
        let part = inFlight.removeFirst()
        switch await part.task.result {
        case .success(let uploaded):
            stored.append(uploaded)
            finishedParts[uploaded.partNumber] = nil
        case .failure(let error):
            if configuration.writeBack, !part.freed, let path = part.path { await release(part.reserved, path: path) }
            throw (error as? ObjectStoreError).map { VFSError($0, path: shown) } ?? error
        }
    }

    // MARK: - Resuming from an existing object

    /// Puts the first bytes of the base object in place: copied server-side as the first parts
    /// when large enough, else read back through the spool.
    func startFromBase() async throws {
        guard let base else { return }
        self.base = nil
        guard base.length > 0 else { return }
        // A small prefix is read into the spool rather than copied in the store: there it can
        // still be changed (a mount's write before the old end, after one at the end: a length
        // field rewritten once the data is appended), which a server-side copy cannot.
        if base.length >= max(UInt64(store.capabilities.minPartSize), Self.spoolPrefixBelow) && store.capabilities.partCopy {
            try await startMultipart()
            let pieces = Int((base.length + Self.copyPartSize - 1) / Self.copyPartSize)
            let pieceSize = (base.length + UInt64(pieces) - 1) / UInt64(pieces)
            var offset: UInt64 = 0
            while offset < base.length {
                let last = min(offset + pieceSize, base.length) - 1
                let number = nextPartNumber
                nextPartNumber += 1
                let range = offset...last
                try await launch(number: number, path: nil, size: Int(range.count), reserved: 0) { [store, key, sendSlots] id in
                    var part: UploadedPart
                    do {
                        part = try await sendSlots.run {
                            try await store.uploadPartCopy(key, uploadID: id, partNumber: number, source: base.key,
                                                           range: range, ifMatch: base.etag)
                        }
                    } catch ObjectStoreError.changed {
                        throw base.changedError
                    }
                    // OSS documents no CRC in a copy's answer: the copied run's is the base's,
                    // given to its first part.
                    if let crc = base.crc64 {
                        part.crc64 = range.lowerBound == 0 ? crc : nil
                        part.crc64Span = range.lowerBound == 0 ? base.length : 0
                    }
                    return part
                }
                offset = last + 1
            }
            total += base.length
        } else {
            try await readIntoSpool(base)
        }
    }

    /// Asks the store again, in the background, to drop an upload it could not be told to
    /// drop (``UploadRecovery/abortEventually(_:uploadID:store:)``). The journal's record goes
    /// once the store took it; the next start still aborts whatever is left.
    private func abortLater(_ id: String) {
        let (store, key, name) = (self.store, self.key, self.name)
        let journal = record != nil ? configuration.journal : nil
        Task.detached {
            if await UploadRecovery.abortEventually(key, uploadID: id, store: store) { await journal?.remove(name) }
        }
    }

    /// Sealed parts of one write-back upload waiting to be sent or being sent, beyond which its
    /// writer waits (the spool budget stops it well before, at the default part size).
    static let writeBackPartsWaiting = 10_000

    /// A kept prefix smaller than this is read into the spool, not copied server-side.
    static let spoolPrefixBelow: UInt64 = 8 << 20

    /// Server-side copies are cut into parts of at most 1 GiB (CopyObject's OSS limit).
    static let copyPartSize: UInt64 = 1 << 30

    // MARK: - Committing

    public func commit() async throws {
        guard case .accepting = state else { throw VFSError.storeFailure("upload already finished") }
        state = .committing
        if configuration.writeBack {
            try await guarded { try await sealForWriteBack() }
            return
        }
        let condition = commitCondition
        try await guarded {
            try await startFromBase()
            if uploadID == nil && partFile == nil && pendingFirst == nil {
                // Never left memory: one PUT of the buffer.
                try await finalWrite { [store, key, metadata, contentHeaders, buffer] in
                    try await store.put(key, body: .bytes(buffer), metadata: metadata, contentHeaders: contentHeaders,
                                        condition: condition)
                }
                buffer = []
            } else {
                try await flush()
                try await sealPart()
                if let first = pendingFirst {
                    let body = ObjectBody.file(path: first.path, offset: 0, length: UInt64(first.size), disposable: true)
                    let (store, key, metadata, budget) = (self.store, self.key, self.metadata, configuration.budget)
                    let contentHeaders = self.contentHeaders
                    try await finalWrite {
                        _ = try await budget.whileSending {
                            try await store.put(key, body: body, metadata: metadata, contentHeaders: contentHeaders,
                                                condition: condition)
                        }
                    }
                    pendingFirst = nil
                    await release(first.reserved, path: first.path)
                } else {
                    while !inFlight.isEmpty { try await collectOldest() }
                    guard let id = uploadID else { preconditionFailure("a multipart upload without an id") }
                    try await resendPatchedParts(uploadID: id)
                    let parts = completedParts()
                    try await finalWrite { [store, key] in
                        try await store.completeMultipartUpload(key, uploadID: id, parts: parts, condition: condition)
                    }
                    uploadID = nil
                }
            }
            state = .committed
            await dropRetained()
            if let journal = configuration.journal, record != nil {
                await journal.remove(name, writeBackName: WriteBackOrder.name(key, in: store.descriptor))
            }
            await onCommit()
        }
    }

    // MARK: - Aborting

    public func abort() async {
        switch state {
        case .committed, .aborted: return
        case .accepting, .committing: state = .aborted
        }
        // Parts in flight free their own files and budget as they end (failed ones in
        // write-back mode excepted).
        for part in inFlight {
            part.task.cancel()
            if case .failure = await part.task.result, configuration.writeBack, !part.freed, let path = part.path {
                await release(part.reserved, path: path)
            }
        }
        inFlight = []
        await dropRetained()
        var aborted = true
        if let id = uploadID {
            uploadID = nil
            do {
                try await store.abortMultipartUpload(key, uploadID: id)
            } catch {
                aborted = false
                abortLater(id)
            }
        }
        // If the store could not be told, the record stays, and the next start aborts it.
        if aborted, let journal = configuration.journal, record != nil {
            await journal.remove(name, writeBackName: WriteBackOrder.name(key, in: store.descriptor))
        }
        if let first = pendingFirst {
            pendingFirst = nil
            await release(first.reserved, path: first.path)
        }
        if let path = partPath {
            if let file = partFile { try? await storeIO { try? file.close() } }
            partFile = nil
            partPath = nil
            await release(partReserved, path: path)
            partReserved = 0
        }
        buffer = []
    }

    // MARK: - Helpers

    /// Runs `body`; on any error aborts the whole upload and rethrows it as a ``VFSError``.
    func guarded(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await abort()
            if let error = error as? ObjectStoreError { throw VFSError(error, path: shown) }
            throw error
        }
    }

    /// Runs `work` (the spool's files) off the event loops. The spool's folder refusing (its
    /// permissions changed, its disk remounted read-only) is the server's fault, not the
    /// client's file's: 451 (and EIO), with the folder named in the log, not 550.
    func storeIO<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await BlockingIO.run(work)
        } catch ObjectStoreError.io(let operation, let code) where [EPERM, EACCES, EROFS].contains(code) {
            VFSMetrics.storeLogger.error("the spool refused a file operation", metadata: [
                "operation": "\(operation)", "errno": "\(code)"])
            throw VFSError.storeFailure("\(shown): the server's spool refused to \(VFSError.verb(of: operation)) (errno \(code))")
        }
    }

    func release(_ reserved: Int64, path: String) async {
        try? await storeIO { try DirectoryOps.unlinkIfPresent(path) }
        await configuration.budget.release(reserved)
    }
}
