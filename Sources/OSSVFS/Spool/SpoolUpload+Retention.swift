/// Parts kept after they were sent (``keepSentBytes(upTo:)``): the first bytes of a file being
/// written through the mount can be read back and patched until it is committed, not only
/// those of the part being written. git's index-pack reads back the pack it writes, through a
/// second descriptor; a video muxer or a WAV writer fills in its header last. A patched part is
/// sent again under its number before the completion (a multipart upload keeps the last part
/// sent under a number).
extension SpoolUpload {
    /// A sent part whose file is kept.
    struct RetainedPart {
        var number: Int
        var path: String
        var start: UInt64
        var size: Int
    }

    public func keepSentBytes(upTo bytes: Int64) {
        retentionLimit = configuration.writeBack ? 0 : bytes
    }

    /// Whether `part`'s file is to be kept once sent: while the kept parts, which begin with
    /// the first, still fit the retention. The first that does not ends it; the parts kept
    /// stay (a header at the start can still be filled in), and bytes past them are refused
    /// (EINVAL) once sent, as with no retention.
    func retain(_ part: SealedPart) -> Bool {
        guard !retentionEnded else { return false }
        let follows = retained.last.map { $0.start + UInt64($0.size) == part.start } ?? (part.start == 0)
        guard follows, retainedBytes + Int64(part.size) <= retentionLimit else {
            retentionEnded = true
            return false
        }
        retained.append(RetainedPart(number: part.number, path: part.path, start: part.start, size: part.size))
        retainedBytes += Int64(part.size)
        return true
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
