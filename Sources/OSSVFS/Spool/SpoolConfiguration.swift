/// Where uploads are staged, how they are cut into parts and how many go up at once.
public struct SpoolConfiguration: Sendable {
    /// Folder of the spool files; created when missing.
    public var directory: String
    /// Size of the first parts; a file no larger than this goes up as one PUT.
    public var partSize: Int
    /// The part size when none is given (`part_size_mb`'s default).
    public static let defaultPartSize = 16 << 20
    /// Parts of one upload sent at once.
    public var concurrency: Int
    /// Bytes gathered in memory before each write to a spool file.
    public var writeBufferSize: Int
    /// The disk budget shared by all uploads.
    public var budget: SpoolBudget
    /// Where uploads are recorded so that a restart can finish or abort them; nil for none.
    public var journal: UploadJournal?
    /// Write-back: an upload is reported done once it is synced in the spool, and goes up in
    /// the background (finished after a restart if need be).
    public var writeBack: Bool

    public init(directory: String, partSize: Int = Self.defaultPartSize, concurrency: Int = 4, writeBufferSize: Int = 256 << 10,
                budget: SpoolBudget = SpoolBudget(limit: 1 << 30), journal: UploadJournal? = nil,
                writeBack: Bool = false) {
        self.directory = directory
        self.partSize = partSize
        self.concurrency = max(1, concurrency)
        self.writeBufferSize = writeBufferSize
        self.budget = budget
        self.journal = journal
        self.writeBack = writeBack && journal != nil
    }

    /// Stores cap parts at 5 GiB.
    static let maxPartSize = 5 << 30

    /// The size of part `number` (1-based) of an upload of unknown length: the first hundred
    /// parts have the configured size, and it doubles every hundred parts up to 5 GiB, so the
    /// 10,000 parts of a multipart upload reach the largest object OSS allows (48.8 TB).
    public func partSize(forPart number: Int) -> Int {
        let doublings = min(20, (number - 1) / 100)
        return min(Self.maxPartSize, partSize << doublings)
    }
}
