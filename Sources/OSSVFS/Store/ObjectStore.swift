/// The seam between OSSVFS and every storage backend: one bucket of one object store.
///
/// Deliberately small, like mountpoint-s3's `ObjectClient`: each operation maps to one request
/// (or one file-system step for ``LocalStore``). Directory emulation, caching and spooling live
/// above this protocol, never in an implementation.
public protocol ObjectStore: Sendable {
    /// What this store can do beyond the common operations.
    var capabilities: ObjectStoreCapabilities { get }

    /// Which bucket this is and whose credentials sign for it: caches are shared per identity.
    var identity: StoreIdentity { get }

    /// How to make this store again, after a restart (the upload journal keeps it).
    var descriptor: StoreDescriptor { get }

    /// Metadata of one object. Throws ``ObjectStoreError/noSuchKey`` when it does not exist.
    func head(_ key: String) async throws -> ObjectInfo

    /// The bytes of one object, or of `range` of it, as a pull-based stream. With `ifMatch`,
    /// only while the object's ETag is still that one (else ``ObjectStoreError/changed``): the
    /// ranges of one read all come from the same object.
    func get(_ key: String, range: ByteRange?, ifMatch: String?) async throws -> ObjectByteStream

    /// One page of a listing: keys and, with a delimiter, common prefixes, in UTF-8 byte order.
    func listPage(_ request: ListRequest) async throws -> ListPage

    /// Stores a whole object; it becomes visible atomically, when `condition` holds as it
    /// commits (else nothing changes): see ``WriteCondition``. `contentHeaders` are standard
    /// headers kept with the object (``ObjectInfo/contentHeaders``); without a Content-Type, one
    /// is guessed from the key's extension (``MediaTypes``). A store that keeps no such headers
    /// (the local store) ignores them.
    @discardableResult
    func put(_ key: String, body: ObjectBody, metadata: [String: String], contentHeaders: [String: String],
             condition: WriteCondition) async throws -> String

    /// Starts a multipart upload and returns its upload id; `contentHeaders` as for
    /// ``put(_:body:metadata:contentHeaders:condition:)``.
    func createMultipartUpload(_ key: String, metadata: [String: String], contentHeaders: [String: String])
        async throws -> String

    /// Uploads part `partNumber` (1-based) of an upload.
    func uploadPart(_ key: String, uploadID: String, partNumber: Int, body: ObjectBody) async throws -> UploadedPart

    /// Joins the parts, in the order given, into the object; it becomes visible atomically.
    /// `condition` as for ``put(_:body:metadata:condition:)``.
    @discardableResult
    func completeMultipartUpload(_ key: String, uploadID: String, parts: [UploadedPart],
                                 condition: WriteCondition) async throws -> String

    /// Copies `range` of the object `source` (same bucket) as part `partNumber`; only when
    /// `capabilities.partCopy`. With `ifMatch`, only from the version with that ETag
    /// (``ObjectStoreError/changed(_:)`` otherwise).
    func uploadPartCopy(_ key: String, uploadID: String, partNumber: Int, source: String,
                        range: ClosedRange<UInt64>, ifMatch: String?) async throws -> UploadedPart

    /// The parts of an upload the store holds.
    func listParts(_ key: String, uploadID: String) async throws -> [UploadedPart]

    /// Drops an upload and its parts.
    func abortMultipartUpload(_ key: String, uploadID: String) async throws

    /// Deletes one object. Deleting a missing key is not an error (as in S3 and OSS).
    func delete(_ key: String) async throws

    /// Deletes several objects; returns the keys that could not be deleted with their errors.
    func deleteMany(_ keys: [String]) async throws -> [String: ObjectStoreError]

    /// Copies an object inside the bucket, when `condition` holds of the destination (else
    /// ``ObjectStoreError/conflict(_:)`` or ``ObjectStoreError/changed(_:)``, as for `put`).
    func copy(from source: String, to destination: String, condition: WriteCondition) async throws

    /// Replaces an object's user metadata, keeping its bytes.
    func replaceMetadata(_ key: String, metadata: [String: String]) async throws

    /// Renames an object, or a whole prefix, atomically; only when `capabilities.nativeRename`.
    /// Unless `replacing`, a name taken at `destination` fails it with
    /// ``ObjectStoreError/conflict(_:)``, in the same step.
    func rename(from source: String, to destination: String, replacing: Bool) async throws

    /// Whether a whole disposable file in `directory` becomes an object as it is, with no copy
    /// (a hard link on the same file system). Blocking: call it off the event loops.
    func adoptsFiles(in directory: String) -> Bool

    /// Told as an upload to `key` begins writing its bytes. A store that keeps the current
    /// object in memory may let go of it: the upload is about to need as much memory again.
    /// The object stays readable until the upload commits. Advisory; blocking: call it off the
    /// event loops.
    func uploadBegins(_ key: String)

    /// Throws ``ObjectStoreError/invalidKey(_:)`` for a key this store cannot hold, so that
    /// an upload is refused before its bytes are sent rather than at its commit.
    func validate(_ key: String) throws

    /// The bytes free where the store keeps its objects, when that is a local disk; nil for a
    /// store over the network. Blocking: call it off the event loops.
    func freeSpace() -> UInt64?
}

extension ObjectStore {
    /// Stores a whole object, replacing any with the key.
    @discardableResult
    public func put(_ key: String, body: ObjectBody, metadata: [String: String]) async throws -> String {
        try await put(key, body: body, metadata: metadata, contentHeaders: [:], condition: .none)
    }

    /// Stores a whole object with no standard headers of its own (its Content-Type guessed).
    @discardableResult
    public func put(_ key: String, body: ObjectBody, metadata: [String: String], condition: WriteCondition)
        async throws -> String
    {
        try await put(key, body: body, metadata: metadata, contentHeaders: [:], condition: condition)
    }

    /// Starts a multipart upload with no standard headers of its own (its Content-Type guessed).
    public func createMultipartUpload(_ key: String, metadata: [String: String]) async throws -> String {
        try await createMultipartUpload(key, metadata: metadata, contentHeaders: [:])
    }

    /// Joins the parts into the object, replacing any with the key.
    @discardableResult
    public func completeMultipartUpload(_ key: String, uploadID: String, parts: [UploadedPart]) async throws -> String {
        try await completeMultipartUpload(key, uploadID: uploadID, parts: parts, condition: .none)
    }

    /// Copies an object inside the bucket, replacing any at `destination`.
    public func copy(from source: String, to destination: String) async throws {
        try await copy(from: source, to: destination, condition: .none)
    }

    /// Renames, replacing what may be at `destination` where the store allows it.
    public func rename(from source: String, to destination: String) async throws {
        try await rename(from: source, to: destination, replacing: true)
    }

    public func rename(from source: String, to destination: String, replacing: Bool) async throws {
        throw ObjectStoreError.service(
            status: 501, code: "NotImplemented", message: "this store has no native rename", requestID: nil)
    }

    public func adoptsFiles(in directory: String) -> Bool { false }

    public func uploadBegins(_ key: String) {}

    public func freeSpace() -> UInt64? { nil }

    /// Stores that check keys only as they receive them.
    public func validate(_ key: String) throws {}
}

/// A bucket and the principal that signs for it.
public struct StoreIdentity: Sendable, Hashable {
    /// Where the bucket is: `local:/root/bucket`, `https://host/bucket`.
    public var bucket: String
    /// Who signs: an access key id and a digest of its secret, or empty for the local store.
    public var principal: String

    public init(bucket: String, principal: String) {
        self.bucket = bucket
        self.principal = principal
    }
}

/// Optional abilities of a store, as one value rather than many `supportsX()` methods.
public struct ObjectStoreCapabilities: Sendable, Equatable {
    /// Largest part number of a multipart upload.
    public var maxParts: Int
    /// Smallest size of every part but the last.
    public var minPartSize: Int
    /// Largest key, in UTF-8 bytes.
    public var maxKeyLength: Int
    /// Whether ``ObjectStore/rename(from:to:)`` works (a folder store; OSS buckets with the
    /// hierarchical namespace, when enabled).
    public var nativeRename: Bool
    /// Whether parts can be copied from existing objects (UploadPartCopy).
    public var partCopy: Bool
    /// Whether reads come from local files (the local store): read without ranged read-ahead,
    /// since the kernel reads ahead, and the open file is a snapshot of the object.
    public var localReads: Bool

    public init(maxParts: Int = 10_000, minPartSize: Int = 100 * 1024, maxKeyLength: Int = 1023,
                nativeRename: Bool = false, partCopy: Bool = true, localReads: Bool = false) {
        self.maxParts = maxParts
        self.minPartSize = minPartSize
        self.maxKeyLength = maxKeyLength
        self.nativeRename = nativeRename
        self.partCopy = partCopy
        self.localReads = localReads
    }
}

/// Metadata of one object.
public struct ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: UInt64
    public var lastModified: Double
    public var etag: String
    /// User metadata, names lower-case without the `x-oss-meta-`/`x-amz-meta-` prefix.
    public var metadata: [String: String]
    /// The CRC-64/XZ of the whole object, when the store reports one (OSS does).
    public var crc64: UInt64?
    /// The MD5 of the whole object, when a HEAD's ETag is one (``StoreDialect/contentMD5(etag:in:)``).
    /// A listing does not say how an object is encrypted, so it leaves this out.
    public var contentMD5: String?
    /// The standard headers the store keeps with the object (``ObjectInfo/contentHeaderNames``),
    /// lower-case, as a HEAD returns them: a copy that replaces the metadata must send them again.
    public var contentHeaders: [String: String]

    public init(key: String, size: UInt64, lastModified: Double, etag: String, metadata: [String: String] = [:],
                crc64: UInt64? = nil, contentMD5: String? = nil, contentHeaders: [String: String] = [:]) {
        self.key = key
        self.size = size
        self.lastModified = lastModified
        self.etag = etag
        self.metadata = metadata
        self.crc64 = crc64
        self.contentMD5 = contentMD5
        self.contentHeaders = contentHeaders
    }

    /// Headers S3 and OSS keep with an object and drop in a copy that replaces its metadata
    /// (`Content-Encoding: gzip` lost made an object served over HTTP unreadable).
    public static let contentHeaderNames = ["content-type", "cache-control", "content-disposition", "content-encoding",
                                            "content-language", "expires"]
}

/// A byte range of an object, as in an HTTP `Range` header (RFC 9110 §14.1.2).
public enum ByteRange: Sendable, Equatable {
    /// From `start` to the end of the object.
    case from(UInt64)
    /// `start...end`, both inclusive.
    case closed(UInt64, UInt64)
    /// The last `n` bytes.
    case suffix(UInt64)
}

/// What a listing asks for.
public struct ListRequest: Sendable, Equatable {
    public var prefix: String
    public var delimiter: String?
    public var continuationToken: String?
    public var maxKeys: Int

    public init(prefix: String, delimiter: String? = "/", continuationToken: String? = nil, maxKeys: Int = 1000) {
        self.prefix = prefix
        self.delimiter = delimiter
        self.continuationToken = continuationToken
        self.maxKeys = maxKeys
    }
}

/// One page of a listing.
public struct ListPage: Sendable, Equatable {
    public var objects: [ObjectInfo]
    public var commonPrefixes: [String]
    /// Present when more pages follow.
    public var nextContinuationToken: String?

    public init(objects: [ObjectInfo], commonPrefixes: [String], nextContinuationToken: String?) {
        self.objects = objects
        self.commonPrefixes = commonPrefixes
        self.nextContinuationToken = nextContinuationToken
    }
}

/// The body of a put or an uploaded part: bytes in memory, or a slice of a file (the spool).
public enum ObjectBody: Sendable, Equatable {
    case bytes([UInt8])
    /// A byte range of a file. `disposable`: the caller deletes the file afterwards and never
    /// changes it meanwhile (a spool file), so a store on the same file system may take it
    /// over instead of copying it.
    case file(path: String, offset: UInt64, length: UInt64, disposable: Bool = false)

    /// The body's length in bytes.
    public var length: UInt64 {
        switch self {
        case .bytes(let bytes): return UInt64(bytes.count)
        case .file(_, _, let length, _): return length
        }
    }
}

/// One uploaded part of a multipart upload.
public struct UploadedPart: Sendable, Equatable, Codable {
    public var partNumber: Int
    public var etag: String
    public var size: UInt64
    /// The part's CRC-64/XZ, when known, so the whole object's can be checked at completion.
    public var crc64: UInt64?
    /// The bytes `crc64` covers, when not the part's own: parts copied server-side from the
    /// whole of an object have no CRC each that OSS documents, so the first carries the
    /// object's (and its length) and the others 0, covered by it.
    public var crc64Span: UInt64?
    /// The part's CRC-32C in base64, on S3: the completion must repeat it for an upload
    /// started with that checksum algorithm.
    public var crc32c: String?

    public init(partNumber: Int, etag: String, size: UInt64, crc64: UInt64? = nil, crc32c: String? = nil) {
        self.partNumber = partNumber
        self.etag = etag
        self.size = size
        self.crc64 = crc64
        self.crc32c = crc32c
    }
}

/// Everything needed to make a store again: kept in the upload journal (mode 0600 in the
/// spool folder) so that a restarted ossftp can finish or abort what a killed one left.
public enum StoreDescriptor: Codable, Sendable, Equatable {
    case local(root: String, bucket: String)
    case http(kind: String, endpoint: String, region: String, pathStyle: Bool, signatureVersion: Int,
              hierarchicalNamespace: Bool, bucket: String, accessKeyID: String, secret: String, token: String?,
              checksum: String? = nil)

    /// The bucket of the store.
    public var bucket: String {
        switch self {
        case .local(_, let bucket): bucket
        case .http(_, _, _, _, _, _, let bucket, _, _, _, _): bucket
        }
    }

    /// The store this describes.
    public func makeStore(transport: CurlTransport) throws -> any ObjectStore {
        switch self {
        case .local(let root, let bucket):
            return try LocalStore(root: root, bucket: bucket)
        case .http(let kind, let endpoint, let region, let pathStyle, let signatureVersion, let hierarchicalNamespace,
                   let bucket, let accessKeyID, let secret, let token, let checksum):
            // A journal written before the setting existed: its parts carried Content-MD5.
            let bodyChecksum = checksum.flatMap(StoreDialect.BodyChecksum.init(rawValue:)) ?? .md5
            let dialect: StoreDialect = kind == "oss"
                ? .oss(region: region, signatureVersion: signatureVersion, pathStyle: pathStyle)
                : .s3(region: region, pathStyle: pathStyle, checksum: bodyChecksum)
            return HTTPObjectStore(
                bucket: bucket, endpoint: try StoreEndpoint(endpoint), dialect: dialect,
                credentials: StoreCredentials(accessKeyID: accessKeyID, secretAccessKey: secret, securityToken: token),
                transport: transport, hierarchicalNamespace: hierarchicalNamespace)
        }
    }
}

extension ObjectStore {
    /// The bytes of one object, or of `range` of it, whatever its ETag.
    public func get(_ key: String, range: ByteRange?) async throws -> ObjectByteStream {
        try await get(key, range: range, ifMatch: nil)
    }
}

extension ObjectStore {
    /// Copies `range` of whatever version of `source` the store holds as part `partNumber`.
    public func uploadPartCopy(_ key: String, uploadID: String, partNumber: Int, source: String,
                               range: ClosedRange<UInt64>) async throws -> UploadedPart {
        try await uploadPartCopy(key, uploadID: uploadID, partNumber: partNumber, source: source, range: range, ifMatch: nil)
    }
}
