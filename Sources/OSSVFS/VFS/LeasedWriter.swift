/// An upload holding its object's continuation lease, released once it is committed or dropped.
final class LeasedWriter: VFSWriter, @unchecked Sendable {
    private let upload: any VFSWriter
    private let name: String
    private let lock = Lock()
    private var released = false
    /// When it last took bytes (or was made).
    private var lastActive = ContinuousClock.now

    /// `upload`, holding the lease of `name` (taken by the caller).
    init(_ upload: any VFSWriter, lease name: String) {
        self.upload = upload
        self.name = name
    }

    /// Whether it has taken no bytes for `span`.
    func idle(for span: Duration) -> Bool {
        lock.withLock { ContinuousClock.now - lastActive >= span }
    }

    private func active() {
        lock.withLock { lastActive = ContinuousClock.now }
    }

    func write(contentsOf chunks: [any VFSBytes]) async throws {
        active()
        try await upload.write(contentsOf: chunks)
    }

    func overwrite(_ bytes: [UInt8], at offset: UInt64) async throws {
        active()
        try await upload.overwrite(bytes, at: offset)
    }

    func readBack(at offset: UInt64, count: Int) async throws -> [UInt8] {
        try await upload.readBack(at: offset, count: count)
    }

    func truncate(to size: UInt64) async throws {
        active()
        try await upload.truncate(to: size)
    }

    func keepSentBytes(upTo bytes: Int64) async {
        await upload.keepSentBytes(upTo: bytes)
    }

    func commit() async throws {
        do {
            try await upload.commit()
        } catch {
            await release()
            throw error
        }
        await release()
    }

    func abort() async {
        await upload.abort()
        await release()
    }

    private func release() async {
        guard lock.withLock({ () -> Bool in
            defer { released = true }
            return !released
        }) else { return }
        await ContinuationLeases.shared.release(name)
    }

    deinit {
        // A frontend that drops an upload without ending it must not hold the file for good.
        if !released {
            let name = self.name
            Task { await ContinuationLeases.shared.release(name) }
        }
    }
}
