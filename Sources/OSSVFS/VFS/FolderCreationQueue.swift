/// One MKD (mkdir) of a given folder at a time, in this process.
///
/// MKD looks for the folder and then writes its marker only if no object has the marker's key.
/// Not every store makes that condition atomic: SeaweedFS lets two conditional writes of one
/// key that arrive together both succeed, and then every client making the folder at once
/// (rclone makes each file's parent folder as it copies files in parallel) was told it made
/// it. Here the second waits for the first, and then finds the folder there.
actor FolderCreationQueue {
    /// One per process: every session and account making a folder of the same store meets here.
    static let shared = FolderCreationQueue()

    /// The folders being made, each with the creations waiting for it.
    private var making: [String: [CheckedContinuation<Void, Never>]] = [:]

    /// Runs `body` once no other creation of `name` runs.
    func serialize<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async throws -> T {
        if making[name] == nil {
            making[name] = []
        } else {
            await withCheckedContinuation { making[name, default: []].append($0) }
        }
        defer { handOver(name) }
        return try await body()
    }

    /// Lets the next creation of `name` run, or forgets the name.
    private func handOver(_ name: String) {
        guard var queue = making[name], !queue.isEmpty else {
            making[name] = nil
            return
        }
        let next = queue.removeFirst()
        making[name] = queue
        next.resume()
    }
}
