/// How downloads read ahead.
public struct ReadAheadConfiguration: Sendable {
    /// The first range asked for after an open or a seek.
    public var initialWindow: Int
    /// The largest range asked for; the window doubles up to it on sequential reads.
    public var maxWindow: Int
    /// Range requests running at once on one stream.
    public var parallelRanges: Int

    public init(initialWindow: Int = 1 << 20, maxWindow: Int = 64 << 20, parallelRanges: Int = 2) {
        self.initialWindow = initialWindow
        self.maxWindow = max(initialWindow, maxWindow)
        self.parallelRanges = max(1, parallelRanges)
    }
}
