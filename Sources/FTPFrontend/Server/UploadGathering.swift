import Synchronization

/// How many bytes of an upload are gathered from its socket reads before they go to the
/// writer at once, given how many uploads are receiving in the whole server.
///
/// Each hand-over to the writer is two thread wake-ups (to the disk thread and back to the
/// event loop). At 256 KiB a single fast upload woke threads 10,000 times a second, and they
/// took turns on the core the client itself was sending from. With 1 MiB there are a quarter
/// as many: one upload alone sent about a fifth more in ftpbench's one-second STOR. Gathered
/// reads stay in memory until written, so with many uploads at once the size falls back
/// toward 256 KiB: all of them together gather at most 16 MiB, or 256 KiB each.
enum UploadGathering {
    /// The most one upload gathers, when few are receiving.
    static let largest = 1 << 20
    /// The least, however many are receiving.
    static let smallest = 256 << 10
    /// What all uploads together gather at most, while each may still gather `smallest`.
    static let sharedBound = 16 << 20

    private static let receiving = Atomic<Int>(0)

    /// Counts one more upload receiving, until `end()`.
    static func begin() { receiving.add(1, ordering: .relaxed) }

    /// Counts one upload fewer.
    static func end() { receiving.subtract(1, ordering: .relaxed) }

    /// The bytes an upload gathers now before a write.
    static var chunk: Int { size(receiving: receiving.load(ordering: .relaxed)) }

    /// The gathering size when `count` uploads are receiving.
    static func size(receiving count: Int) -> Int {
        min(largest, max(smallest, sharedBound / max(1, count)))
    }
}
