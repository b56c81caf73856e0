/// One change of a given name at a time, in this process: an MKD (mkdir) of a folder, a DELE
/// or a rename of a name.
///
/// MKD looks for the folder and then writes its marker only if no object has the marker's key.
/// Not every store makes that condition atomic: SeaweedFS lets two conditional writes of one
/// key that arrive together both succeed, and then every client making the folder at once
/// (rclone makes each file's parent folder as it copies files in parallel) was told it made
/// it. Here the second waits for the first, and then finds the folder there. Likewise a DELE or
/// a rename looks for its name and then acts, and a store's delete succeeds whether or not the
/// object was there: two DELEs of one file at once both got 250, and two renames by copy of one
/// file both got 250 and left it under both new names. The second now finds it gone (550).
actor NameQueue {
    /// One per process: every session and account changing a name of the same store meets here.
    static let shared = NameQueue()

    /// The names being changed, each with the changes waiting for it.
    private var making: [String: [CheckedContinuation<Void, Never>]] = [:]

    /// Runs `body` once no other change of `name` runs.
    func serialize<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async throws -> T {
        if making[name] == nil {
            making[name] = []
        } else {
            await withCheckedContinuation { making[name, default: []].append($0) }
        }
        defer { handOver(name) }
        return try await body()
    }

    /// Lets the next change of `name` run, or forgets the name.
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
