/// Parts kept after they were sent (``SpoolConfiguration/retainSentBytes``): a new file being
/// written through the mount can be read back and patched anywhere until it is committed, not
/// only in the part being written. git's index-pack reads back the pack it writes, through a
/// second descriptor; a video muxer writes its header last. A patched part is sent again
/// under its number before the completion (a multipart upload keeps the last part sent
/// under a number).
extension SpoolUpload {
    /// A sent part whose file is kept.
    struct RetainedPart {
        var number: Int
        var path: String
        var start: UInt64
        var size: Int
    }

    /// Whether `part`'s file is to be kept once sent: while the kept parts still fit the
    /// retention and follow each other with no gap. A file that outgrows the retention drops
    /// what it kept (a patch or read-back there gives EINVAL, as before any was kept).
    func retain(_ part: SealedPart) async throws -> Bool {
        let limit = configuration.retainSentBytes
        guard limit > 0, !configuration.writeBack, !retentionEnded else { return false }
        let follows = retained.last.map { $0.start + UInt64($0.size) == part.start } ?? true
        guard follows, retainedBytes + Int64(part.size) <= limit else {
            retentionEnded = true
            // Patches not sent yet go now, before their files do.
            if let id = uploadID { try await resendPatchedParts(uploadID: id) }
            await dropRetained()
            return false
        }
        retained.append(RetainedPart(number: part.number, path: part.path, start: part.start, size: part.size))
        retainedBytes += Int64(part.size)
        return true
    }

    /// The offset from which bytes are still here: the first kept part's, else the first part
    /// not yet sent.
    func earliestHeld(unsentFrom firstUnsent: UInt64) -> UInt64 {
        retained.first?.start ?? firstUnsent
    }

    /// Waits until the parts `numbers` that are in flight have ended (stored or not: a failure
    /// is the upload's, found when the part is collected).
    func waitUntilSent(_ numbers: [Int]) async {
        for part in inFlight where numbers.contains(part.number) { _ = await part.task.result }
    }

    /// Notes a patch of a kept part: it is sent again before the completion.
    func sentPartPatched(_ number: Int) {
        patchedSentParts.insert(number)
    }

    /// Sends every patched part again, once its first send has ended (so that it cannot land
    /// after the second), and keeps the store's new record of each for the completion.
    func resendPatchedParts(uploadID: String) async throws {
        let numbers = patchedSentParts.sorted()
        await waitUntilSent(numbers)
        for number in numbers {
            guard let part = retained.first(where: { $0.number == number }) else { continue }
            resentParts[number] = try await store.uploadPart(
                key, uploadID: uploadID, partNumber: number,
                body: .file(path: part.path, offset: 0, length: UInt64(part.size), disposable: false))
            patchedSentParts.remove(number)
        }
    }

    /// The parts to complete the upload with: each as last sent.
    func completedParts() -> [UploadedPart] {
        stored.map { resentParts[$0.partNumber] ?? $0 }.sorted { $0.partNumber < $1.partNumber }
    }

    /// Removes the kept parts' files.
    func dropRetained() async {
        guard !retained.isEmpty else { return }
        let paths = retained.map(\.path)
        retained = []
        retainedBytes = 0
        patchedSentParts = []
        try? await storeIO { for path in paths { try DirectoryOps.unlinkIfPresent(path) } }
    }
}
