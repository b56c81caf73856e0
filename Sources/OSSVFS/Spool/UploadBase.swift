/// The first bytes of an existing object that an upload continues (APPE, REST then STOR, a
/// file changed in place through the mount).
public struct UploadBase: Sendable {
    /// The object the bytes come from.
    public var key: String
    /// How many of its first bytes the upload keeps.
    public var length: UInt64
    /// The version continued: another one fails the upload, since its bytes are not the ones
    /// the client continues.
    public var etag: String?
    /// The CRC-64 of the kept bytes, known when they are the whole object on a store that
    /// reports one (OSS). Copied server-side, they carry no CRC of their own: this one lets the
    /// completed object's be checked still.
    public var crc64: UInt64?

    public init(key: String, length: UInt64, etag: String?, crc64: UInt64? = nil) {
        self.key = key
        self.length = length
        self.etag = etag
        self.crc64 = crc64
    }
}
