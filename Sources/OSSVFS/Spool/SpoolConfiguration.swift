/// Where uploads are staged and how they are cut into parts.
public struct SpoolConfiguration: Sendable {
    /// Folder of the spool files; created when missing.
    public var directory: String
    /// Size of each multipart part; a file no larger than this goes up as one PUT.
    public var partSize: Int
    /// Bytes gathered in memory before each write to the spool file.
    public var writeBufferSize: Int

    public init(directory: String, partSize: Int = 16 << 20, writeBufferSize: Int = 1 << 20) {
        self.directory = directory
        self.partSize = partSize
        self.writeBufferSize = writeBufferSize
    }
}
