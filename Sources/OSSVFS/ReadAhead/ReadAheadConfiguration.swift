/// How downloads read ahead.
public struct ReadAheadConfiguration: Sendable {
    /// The first range asked for after an open or a seek.
    public var initialWindow: Int
    /// The largest range asked for; the window doubles up to it on sequential reads.
    public var maxWindow: Int
    /// Range requests running at once on one stream.
    public var parallelRanges: Int
    /// The first range asked for after a seek, alone in flight until the window is back to
    /// `initialWindow`. A jump is often one of many (a database's pages, an archive's index):
    /// each started 1 MiB and 2 MiB at once, and the next jump cut both off mid-body, which
    /// closed their connections (6.6 ms per random 4 KiB read over the mount on loopback).
    public var seekWindow: Int

    public init(initialWindow: Int = 1 << 20, maxWindow: Int = 64 << 20, parallelRanges: Int = 2,
                seekWindow: Int = 128 << 10) {
        self.initialWindow = initialWindow
        self.maxWindow = max(initialWindow, maxWindow)
        self.parallelRanges = max(1, parallelRanges)
        self.seekWindow = max(1, min(seekWindow, initialWindow))
    }
}
