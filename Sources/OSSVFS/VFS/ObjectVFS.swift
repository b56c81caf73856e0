/// The ``VFS`` over one bucket of an ``ObjectStore``: directories are key prefixes.
///
/// Key mapping: the path `/a/b` of an account whose home is `home/` is the key `home/a/b`;
/// its directory form is the prefix `home/a/b/`, which exists when any key starts with it
/// (a `home/a/b/` marker object, written by mkdir, or any object below). A directory shadows
/// a file of the same name. Lookups go through the bucket's shared ``MetadataCache``; every
/// write here invalidates what it touches, in every cache of the bucket.
public struct ObjectVFS: VFS {
    /// How every account's view of a bucket behaves: the same for all sessions of a process.
    public struct Options: Sendable {
        public var spool: SpoolConfiguration
        public var readAhead: ReadAheadConfiguration
        public var renamePolicy: RenamePolicy
        /// The process's caches, shared by all sessions.
        public var caches: MetadataCacheRegistry
        /// Keys asked for per listing page.
        public var pageSize: Int
        /// Whether listings show each file's own time (its `mtime` metadata), asked of the
        /// store per file, instead of the Last-Modified a listing gives.
        public var exactListingTimes: Bool

        public init(spool: SpoolConfiguration, readAhead: ReadAheadConfiguration = ReadAheadConfiguration(),
                    renamePolicy: RenamePolicy = .refuse, caches: MetadataCacheRegistry = MetadataCacheRegistry(ttl: 0),
                    pageSize: Int = 1000, exactListingTimes: Bool = false) {
            self.spool = spool
            self.readAhead = readAhead
            self.renamePolicy = renamePolicy
            self.caches = caches
            self.pageSize = pageSize
            self.exactListingTimes = exactListingTimes
        }
    }

    let store: any ObjectStore
    /// Key prefix of the account's root: empty, or ending in `/`.
    let homePrefix: String
    let spool: SpoolConfiguration
    let readAhead: ReadAheadConfiguration
    let renamePolicy: RenamePolicy
    let caches: MetadataCacheRegistry
    let cache: MetadataCache
    /// Keys asked for per listing page.
    let pageSize: Int
    /// ``Options/exactListingTimes``.
    let exactListingTimes: Bool

    /// A view of `store` rooted at `homeDirectory` (a folder inside the bucket, or empty).
    public init(store: any ObjectStore, homeDirectory: String = "", spool: SpoolConfiguration,
                readAhead: ReadAheadConfiguration = ReadAheadConfiguration(), renamePolicy: RenamePolicy = .refuse,
                caches: MetadataCacheRegistry = MetadataCacheRegistry(ttl: 0), pageSize: Int = 1000) {
        self.init(store: store, homeDirectory: homeDirectory,
                  options: Options(spool: spool, readAhead: readAhead, renamePolicy: renamePolicy, caches: caches,
                                   pageSize: pageSize))
    }

    /// A view of `store` rooted at `homeDirectory`, with the process's options.
    public init(store: any ObjectStore, homeDirectory: String = "", options: Options) {
        let trimmed = homeDirectory.splitBytes().joined(separator: "/")
        self.store = store
        self.homePrefix = trimmed.isEmpty ? "" : trimmed + "/"
        var spool = options.spool
        // Every part but the last must reach the store's minimum (5 MiB on S3).
        spool.partSize = max(spool.partSize, store.capabilities.minPartSize)
        self.spool = spool
        self.readAhead = options.readAhead
        self.renamePolicy = options.renamePolicy
        self.caches = options.caches
        self.cache = options.caches.cache(for: store.identity)
        self.pageSize = options.pageSize
        self.exactListingTimes = options.exactListingTimes
    }

    /// Everything, and rename when a policy allows it.
    public var permissions: AccountPermissions { AccountPermissions(rename: renamePolicy != .refuse) }

    /// The object key of a path (the root has none).
    func key(for path: VFSPath) throws -> String {
        try checkedLength(homePrefix + path.components.joined(separator: "/"), path)
    }

    /// The prefix under which a directory's entries live (its marker's key).
    func directoryPrefix(for path: VFSPath) throws -> String {
        path.isRoot ? homePrefix : try checkedLength(try key(for: path) + "/", path)
    }

    /// The prefix of a path that must be an existing directory (to list or remove). A key of
    /// the longest length the store allows can be a file but no folder (no room for its `/`):
    /// not a directory, or not found, rather than a name too long for one that exists.
    func existingDirectoryPrefix(for path: VFSPath) async throws -> String {
        if !path.isRoot, try key(for: path).utf8.count == store.capabilities.maxKeyLength {
            if try await fileInfo(path) != nil { throw VFSError.notDirectory(path.description) }
            throw VFSError.notFound(path.description)
        }
        return try directoryPrefix(for: path)
    }

    private func checkedLength(_ key: String, _ path: VFSPath) throws -> String {
        guard key.utf8.count <= store.capabilities.maxKeyLength else {
            throw VFSError.nameTooLong("\(path): keys are limited to \(store.capabilities.maxKeyLength) bytes")
        }
        return key
    }

    /// Runs a store call, turning its errors into ``VFSError``.
    @discardableResult
    func storeCall<T>(_ path: VFSPath, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ObjectStoreError {
            throw VFSError(error, path: path.description)
        }
    }

    /// Waits for the write-back uploads of `key` whose clients got their 226 and that are not
    /// stored yet: an append, a delete, a rename or a time set after them must act on what they
    /// store (an APPE read the older object and its commit then dropped the pending upload's
    /// bytes; a DELE was undone when the upload landed). Gives up after
    /// ``pendingUploadWait`` with ``VFSError/storeUnavailable(_:)`` (451: try again).
    func awaitPendingUploads(of key: String, _ path: VFSPath) async throws {
        let name = WriteBackOrder.name(key, in: store.descriptor)
        guard await WriteBackOrder.shared.isPending(name) else { return }
        guard await WriteBackOrder.shared.settled(name, within: Self.pendingUploadWait) else {
            throw VFSError.storeUnavailable("an earlier upload of \(path) is still being stored; try again later")
        }
        await invalidate(key)
    }

    /// Waits, as ``awaitPendingUploads(of:_:)``, for the pending write-back uploads of every
    /// file under the directory prefix `prefix`: a folder renamed or removed meanwhile would
    /// get them back under its old name once they land.
    func awaitPendingUploads(under prefix: String, _ path: VFSPath) async throws {
        let name = WriteBackOrder.name(prefix, in: store.descriptor)
        guard await WriteBackOrder.shared.isPending(under: name) else { return }
        guard await WriteBackOrder.shared.settled(under: name, within: Self.pendingUploadWait) else {
            throw VFSError.storeUnavailable("uploads into \(path) are still being stored; try again later")
        }
        await caches.invalidate(bucket: store.identity.bucket, prefix: prefix)
    }

    /// How long an operation waits for the pending write-back uploads of its file.
    static let pendingUploadWait = Duration.seconds(30)

    /// Notes the folders above `keys`, just deleted, as possibly emptied (see
    /// ``MetadataCache/noteEmptied(_:)``).
    func noteEmptied(above keys: [String]) async {
        await caches.noteEmptied(bucket: store.identity.bucket, above: keys)
    }

    /// Forgets what a write to `key` may have changed, in every cache of the bucket.
    func invalidate(_ key: String) async {
        await caches.invalidate(bucket: store.identity.bucket, key: key)
    }

    /// Whether `path` is a folder: a key lives under its directory prefix, or ossftp emptied it
    /// lately and it was not removed since (``MetadataCache/vanishedWithItsObjects(_:)``).
    func directoryExists(_ path: VFSPath) async throws -> Bool {
        if path.isRoot {
            try await requireBucket()
            return true
        }
        // A key of the longest length a store allows has no room for a `/` after it: nothing
        // can live under it, and the file itself must still be found (stat asks both).
        if try key(for: path).utf8.count >= store.capabilities.maxKeyLength { return false }
        let prefix = try directoryPrefix(for: path)
        if try await storedDirectoryExists(path, prefix: prefix) { return true }
        // A folder that went away with the last object under it, deleted through ossftp lately,
        // is still there, empty, until RMD or rmdir, as on a disk: a client deleting a tree goes
        // back up into it (lftp's `rm -r`, rclone's purge), a session standing in it goes on
        // (CDUP, a camera's next STOR after deleting the old picture).
        guard await cache.vanishedWithItsObjects(prefix) else { return false }
        // That memory is this process's own: another one may have removed the folder, or one
        // above it, and stored a file of that name since, which no listing here contradicts.
        // The file wins (it was shown as an empty folder for minutes, and STOR under it gave 550).
        var folder: VFSPath? = path
        while let current = folder, !current.isRoot {
            // A store that cannot say now leaves the folder as remembered.
            if (try? await fileInfo(current)) != nil {
                await cache.clearEmptied(prefix)
                return false
            }
            folder = current.parent
        }
        return true
    }

    /// Whether any key lives under `prefix`, the directory prefix of `path` (a marker, or the
    /// folder's objects).
    func storedDirectoryExists(_ path: VFSPath, prefix: String) async throws -> Bool {
        if let known = await cache.directory(prefix) { return known }
        let cache = self.cache
        let exists = try await storeCall(path) {
            if try await Self.isEmptiedFolder(prefix, store: store, cache: cache) { return false }
            let listed = try await store.listPage(ListRequest(prefix: prefix, delimiter: "/", maxKeys: 1))
            if listed.objects.isEmpty && listed.commonPrefixes.isEmpty { return false }
            let page = try await Self.hidingEmptied(listed, store: store, cache: cache)
            if !page.objects.isEmpty || !page.commonPrefixes.isEmpty { return true }
            // The page's one entry was a folder ossftp emptied, which sorts first; keys after
            // it (`p/keep` after `p/d/`) still make this a folder.
            return try await !store.listPage(ListRequest(prefix: prefix, delimiter: nil, maxKeys: 1)).objects.isEmpty
        }
        await cache.setDirectory(prefix, exists: exists)
        return exists
    }

    /// Throws when the bucket is missing. The root always exists, but only in a bucket that
    /// does: `MLST /` there is 550 like its listing, and `MKD /d` must not write a marker that
    /// some stores take as an order to create the bucket.
    func requireBucket() async throws {
        // The local store's bucket is a folder, checked when the store was made; a listing of
        // it would read the whole folder.
        if store.capabilities.localReads { return }
        if await cache.bucketKnownToExist { return }
        do {
            _ = try await store.listPage(ListRequest(prefix: homePrefix, delimiter: "/", maxKeys: 1))
            await cache.bucketExists()
        } catch let error as ObjectStoreError {
            // Only a missing bucket is an answer; a store that cannot say now leaves the root
            // as it always was (the operation that follows meets the trouble itself).
            if case .noSuchBucket = error { throw VFSError(error, path: "/") }
        }
    }

    /// The object at `path`, or nil when there is none.
    func fileInfo(_ path: VFSPath) async throws -> ObjectInfo? {
        if path.isRoot { return nil }
        let key = try key(for: path)
        if let known = await cache.object(key) { return known }
        do {
            let info = try await store.head(key)
            await cache.setObject(key, info)
            return info
        } catch ObjectStoreError.noSuchKey {
            await cache.setObject(key, nil)
            return nil
        } catch ObjectStoreError.invalidKey {
            // A name the store cannot hold cannot exist either.
            return nil
        } catch let error as ObjectStoreError {
            throw VFSError(error, path: path.description)
        }
    }

    /// The modification time shown for an object: its `mtime` metadata, else Last-Modified.
    static func modified(_ info: ObjectInfo) -> Double {
        storedTime(info.metadata) ?? info.lastModified
    }

    /// The time in `mtime` metadata, when it holds one.
    static func storedTime(_ metadata: [String: String]) -> Double? {
        // Metadata another tool wrote may hold anything: "nan", "1e300" or "0x10" is not a time.
        // Decimal seconds only, as ossftp, s3fs and rclone write them.
        metadata["mtime"].flatMap { isDecimalSeconds($0) ? Double($0) : nil }.flatMap(UTCDate.validated)
    }

    /// `digits[.digits]`, with a leading `-` for times before 1970.
    static func isDecimalSeconds(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        return parts.allSatisfy { part in
            !part.isEmpty && part.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        }
    }

    public func stat(_ path: VFSPath) async throws -> VFSEntry {
        if path.isRoot {
            _ = try await directoryExists(path)
            return VFSEntry(name: "/", kind: .directory, size: 0, modified: nil)
        }
        // A directory shadows a file of the same name (as in mountpoint-s3); ask both at once.
        async let isDirectory = directoryExists(path)
        async let file = fileInfo(path)
        let name = path.name ?? "/"
        if try await isDirectory { return VFSEntry(name: name, kind: .directory, size: 0, modified: nil) }
        if let info = try await file {
            return VFSEntry(name: name, kind: .file, size: info.size, modified: Self.modified(info), etag: info.etag)
        }
        throw VFSError.notFound(path.description)
    }

    public func statSettled(_ path: VFSPath) async throws -> VFSEntry {
        do {
            return try await stat(path)
        } catch VFSError.notFound where !path.isRoot {
            // A write-back upload told stored is not visible until it lands: RNFR of it got
            // 550 at once, where the rename itself would have waited for it.
            try await awaitPendingUploads(of: try key(for: path), path)
            // Or a folder that is there only by uploads into it still on their way.
            try await awaitPendingUploads(under: try directoryPrefix(for: path), path)
            return try await stat(path)
        }
    }

    public func checksums(_ path: VFSPath) async throws -> VFSChecksums {
        // As in stat: a directory shadows a file of the same name.
        async let isDirectory = directoryExists(path)
        async let file = fileInfo(path)
        if try await isDirectory { throw VFSError.isDirectory(path.description) }
        guard let info = try await file else { throw VFSError.notFound(path.description) }
        return VFSChecksums(size: info.size, md5: info.contentMD5, crc64: info.crc64)
    }

    /// Throws unless `path` is an existing directory.
    func requireDirectory(_ path: VFSPath) async throws {
        if try await directoryExists(path) { return }
        if try await fileInfo(path) != nil { throw VFSError.notDirectory(path.description) }
        throw VFSError.notFound(path.description)
    }

    public func openRead(_ path: VFSPath, offset: UInt64) async throws -> ObjectByteStream {
        guard store.capabilities.localReads else {
            let reader = try await openReader(path, offset: offset)
            // The store's answer to the first GET comes before the 150 (RFC 959 §5.4 allows
            // only 451 after it, "try again"): a refusal the HEAD did not meet is 550 at once,
            // and an archived object was retried by lftp and FileZilla.
            do {
                try await reader.awaitFirstAnswer()
            } catch {
                reader.cancel()
                if let error = error as? ObjectStoreError { throw VFSError(error, path: path.description) }
                throw error
            }
            return ObjectByteStream(source: reader)
        }
        let info = try await readableInfo(path, offset: offset)
        do {
            return try await store.get(info.key, range: .from(offset))
        } catch let error as ObjectStoreError {
            throw VFSError(error, path: path.description)
        }
    }

    /// A read-ahead reader of a file from `offset`, which FUSE can also seek.
    public func openReader(_ path: VFSPath, offset: UInt64) async throws -> ReadAheadStream {
        let info = try await readableInfo(path, offset: offset)
        // The entry may come from the cache and be stale (changed elsewhere): the first GET then
        // finds another ETag, and the stream looks again rather than failing the read.
        return ReadAheadStream(store: store, info: info, offset: offset, configuration: readAhead) { [self] in
            await invalidate(info.key)
            return try await readableInfo(path, offset: offset)
        }
    }

    /// The object at `path`, which must be a file at least `offset` bytes long.
    private func readableInfo(_ path: VFSPath, offset: UInt64) async throws -> ObjectInfo {
        guard let info = try await fileInfo(path) else {
            if try await directoryExists(path) { throw VFSError.isDirectory(path.description) }
            throw VFSError.notFound(path.description)
        }
        guard offset <= info.size else {
            throw VFSError.invalidRange("\(path) has \(info.size) bytes; cannot start at \(offset)")
        }
        return info
    }

    public func openWrite(_ path: VFSPath, modified: Double?, keepingFirst prefixLength: UInt64?, ifAbsent: Bool,
                          onVersion: String?) async throws -> any VFSWriter
    {
        guard let parent = path.parent else { throw VFSError.isDirectory(path.description) }
        let key = try key(for: path)
        // A name the store cannot hold is refused now, not after every byte was sent.
        do { try store.validate(key) } catch let error as ObjectStoreError { throw VFSError(error, path: path.description) }
        if spool.writeBack {
            // Write-back answers 226 while the store is away: a check it cannot make (the store
            // unreachable, or silent for the probe's 5 s) is not a refusal here.
            switch await TimeLimit.outcome(within: SpoolUpload.writeBackProbeTimeout, of: { [self] in
                try await checkPlace(of: path, in: parent)
            }) {
            case .failure(VFSError.storeUnavailable)?, .success?, nil: break
            case .failure(let error)?: throw error
            }
        } else {
            try await checkPlace(of: path, in: parent)
        }
        // Keeping nothing (REST 0) replaces the file: no continuation. A replacement of a known
        // version (the mount's copy changed in place) commits only over that version.
        guard let prefixLength, prefixLength > 0 else {
            // The mount's copy of a version changed in place keeps that file's headers and
            // metadata, as a continuation does; a new upload (STOR, O_TRUNC) gets its own.
            var existing: ObjectInfo?
            if let onVersion {
                await invalidate(key)
                if spool.writeBack {
                    // Write-back takes the file while the store is away: its headers are then
                    // not known, and the file is stored without them.
                    if case .success(let info)? = await TimeLimit.outcome(within: SpoolUpload.writeBackProbeTimeout, of: {
                        [self] in try await fileInfo(path)
                    }) {
                        existing = info
                    }
                } else {
                    existing = try await fileInfo(path)
                }
                if existing?.etag != onVersion { existing = nil }
            }
            let writer = upload(of: key, at: path, modified: modified, base: onVersion.map { UploadBase(key: key, length: 0, etag: $0) },
                                carrying: existing, ifAbsent: ifAbsent)
            // The object it replaces lets go of its cached pages now, before the client's bytes
            // come (FTP's 150 follows), as a file truncated at its open would; dropped as the
            // first part began, it held those bytes up for a tenth of a second per 2 GB.
            let store = self.store
            try? await BlockingIO.run { store.uploadBegins(key) }
            return writer
        }
        let lease = WriteBackOrder.name(key, in: store.descriptor)
        guard await ContinuationLeases.shared.acquire(lease, within: Self.continuationWait) else {
            throw VFSError.busy("another upload is continuing \(path)")
        }
        do {
            let writer = LeasedWriter(try await continuation(of: path, key: key, keepingFirst: prefixLength,
                                                             modified: modified, ifAbsent: ifAbsent, onVersion: onVersion),
                                      lease: lease)
            await ContinuationLeases.shared.attach(writer, to: lease)
            return writer
        } catch {
            await ContinuationLeases.shared.release(lease)
            throw error
        }
    }

    /// How long an upload that continues a file waits for another one continuing it to end.
    static let continuationWait = Duration.seconds(3)

    /// An upload keeping the first `prefixLength` bytes of `path` (all of them for `.max`), as
    /// the store holds it now; a missing file is created when all is to be kept (APPE).
    private func continuation(of path: VFSPath, key: String, keepingFirst prefixLength: UInt64, modified: Double?,
                              ifAbsent: Bool, onVersion: String?) async throws -> any VFSWriter {
        try await awaitPendingUploads(of: key, path)
        // The size and version the upload continues: asked of the store now, not taken from
        // the cache (APPE at a size another client has since grown lost its bytes).
        await invalidate(key)
        guard let existing = try await fileInfo(path) else {
            if prefixLength == .max {
                return upload(of: key, at: path, modified: modified, base: UploadBase(key: key, length: 0, etag: nil, absent: true),
                              ifAbsent: ifAbsent)
            }
            throw VFSError.invalidRange("\(path) does not exist; cannot continue it at \(prefixLength)")
        }
        if let onVersion, !onVersion.isEmpty, existing.etag != onVersion {
            // The caller's offsets are into another version (the mount's size at its open):
            // continuing would cut or shift what another client stored since.
            throw VFSError.busy("\(path) was changed by another client since it was opened")
        }
        let length = prefixLength == .max ? existing.size : prefixLength
        guard length <= existing.size else {
            throw VFSError.invalidRange("\(path) has \(existing.size) bytes; cannot continue it at \(length)")
        }
        let base = UploadBase(key: key, length: length, etag: existing.etag,
                              crc64: length == existing.size ? existing.crc64 : nil)
        return upload(of: key, at: path, modified: modified, base: base, carrying: existing, ifAbsent: ifAbsent)
    }

    /// A new upload of `key`, keeping `base`'s first bytes when given. The file it changes,
    /// when given (`carrying`), passes on its standard headers (Content-Type, Cache-Control...)
    /// and user metadata (s3fs's mode and owner, other tools' fields): a continued file is the
    /// same file. Its stored time is not passed on: the file changes now.
    private func upload(of key: String, at path: VFSPath, modified: Double?, base: UploadBase?,
                        carrying existing: ObjectInfo? = nil, ifAbsent: Bool) -> SpoolUpload {
        let caches = self.caches
        let bucket = store.identity.bucket
        // A checksum another tool keeps in metadata (rclone's md5chksum, s3cmd's attributes)
        // would be wrong for the changed bytes, and that tool would report them corrupted.
        var metadata = (existing?.metadata ?? [:]).filter { !Self.describesContent($0.key) }
        metadata["mtime"] = modified.map(Self.format)
        return SpoolUpload(
            store: store, key: key, shownAs: path.description, metadata: metadata,
            contentHeaders: existing?.contentHeaders ?? [:], configuration: spool, base: base, ifAbsent: ifAbsent
        ) {
            await caches.invalidate(bucket: bucket, key: key)
        }
    }

    /// Whether a user metadata field tells of the bytes themselves (a checksum or hash), so
    /// that it is not passed on to changed bytes.
    static func describesContent(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return ["md5", "sha1", "sha256", "sha512", "crc", "checksum", "hash", "s3cmd-attrs"].contains {
            lowered.contains($0)
        }
    }

    /// Refuses an upload to `path` when its folder is missing or a folder has its name.
    private func checkPlace(of path: VFSPath, in parent: VFSPath) async throws {
        async let parentCheck: Void = requireDirectory(parent)
        async let isDirectory = directoryExists(path)
        try await parentCheck
        if try await isDirectory { throw VFSError.isDirectory(path.description) }
    }

    /// Seconds since 1970 as stored in `mtime` metadata: whole seconds, or nine fraction digits
    /// as rclone and s3fs write them (s3fs reads the digits as nanoseconds: "1614834367.5" was
    /// 5 ns past the second to it). A Double holds microseconds of such a time, no finer:
    /// digits past the microsecond round the time up, as the mount shows it
    /// (``MicrosecondTime``; rounded to the nearest, a time stored by `cp -p` could be older
    /// than its source's). `time` is within ``UTCDate``'s years.
    static func format(_ time: Double) -> String {
        guard let exact = MicrosecondTime(time), let (sign, magnitude) = exact.signAndMagnitude else {
            return String(Int64(time.rounded()))
        }
        if exact.microseconds == 0 { return String(exact.seconds) }
        return "\(sign)\(magnitude / 1_000_000).\(UTCDate.pad(Int(magnitude % 1_000_000), 6))000"
    }

    public func makeDirectory(_ path: VFSPath) async throws {
        guard let parent = path.parent else { throw VFSError.alreadyExists(path.description) }
        let prefix = try directoryPrefix(for: path)
        try await NameQueue.shared.serialize(WriteBackOrder.name(prefix, in: store.descriptor)) {
            async let parentCheck: Void = requireDirectory(parent)
            async let isFile = fileInfo(path) != nil
            async let isFolder = storedDirectoryExists(path, prefix: prefix)
            try await parentCheck
            // A folder that stays only for a while after ossftp emptied it (directoryExists) gets
            // its marker: made for good, as asked.
            let (file, folder) = try await (isFile, isFolder)
            if file || folder { throw VFSError.alreadyExists(path.description) }
            // Only if no marker is there yet: of two clients making the same folder at once, one
            // gets 550 (RFC 959 §4.2's reply for a name that exists), as either would a moment
            // later. Between processes this rests on the store (see NameQueue). Not
            // for a folder ossftp emptied: SeaweedFS keeps it for minutes as an entry that
            // refuses the condition.
            let condition: WriteCondition = await cache.mayBeEmptied([prefix]).isEmpty ? .absent : .none
            try await storeCall(path) {
                _ = try await store.put(prefix, body: .bytes([]), metadata: [:], condition: condition)
            }
            await invalidate(prefix)
        }
    }

    public func removeFile(_ path: VFSPath) async throws {
        let key = try key(for: path)
        // After another DELE or rename of the name in this process, not beside it (NameQueue).
        try await NameQueue.shared.serialize(Self.changeName(key, in: store)) {
            try await awaitPendingUploads(of: key, path)
            guard try await fileInfo(path) != nil else {
                if try await directoryExists(path) { throw VFSError.isDirectory(path.description) }
                throw VFSError.notFound(path.description)
            }
            try await storeCall(path) { try await store.delete(key) }
            await invalidate(key)
            await noteEmptied(above: [key])
        }
    }

    /// The ``NameQueue`` name under which a DELE or a rename of `key` waits for another (apart
    /// from MKD's names: a rename may make a folder while it holds its own).
    static func changeName(_ key: String, in store: any ObjectStore) -> String {
        "change " + WriteBackOrder.name(key, in: store.descriptor)
    }

    public func removeDirectory(_ path: VFSPath) async throws {
        if path.isRoot { throw VFSError.permissionDenied("the root directory cannot be removed") }
        let prefix = try await existingDirectoryPrefix(for: path)
        try await awaitPendingUploads(under: prefix, path)
        let cache = self.cache
        let (page, others) = try await storeCall(path) {
            let listed = try await store.listPage(ListRequest(prefix: prefix, delimiter: "/", maxKeys: 2))
            // A folder ossftp emptied that the store still lists (SeaweedFS does, for minutes)
            // is not content: it went with this one, as it went from its listings.
            let page = try await Self.hidingEmptied(listed, store: store, cache: cache)
            var others = page.commonPrefixes.count + page.objects.filter { !$0.key.utf8.elementsEqual(prefix.utf8) }.count
            if others == 0 && listed.nextContinuationToken != nil && page.commonPrefixes.count < listed.commonPrefixes.count {
                // Hidden entries filled the page: any object under the folder, other than its marker.
                let keys = try await store.listPage(ListRequest(prefix: prefix, delimiter: nil, maxKeys: 2)).objects
                others = keys.filter { !$0.key.utf8.elementsEqual(prefix.utf8) }.count
            }
            return (page, others)
        }
        if others > 0 {
            // What no listing shows would leave the client puzzled at an empty folder.
            let hiddenOnly = page.nextContinuationToken == nil && Self.entries(of: page, under: prefix).isEmpty
            throw VFSError.directoryNotEmpty(
                hiddenOnly ? "\(path) (it holds objects no path can name: with a CR, LF, NUL or \\ in their names, or named . or ..)"
                    : path.description)
        }
        guard let marker = page.objects.first(where: { $0.key.utf8.elementsEqual(prefix.utf8) }) else {
            if try await fileInfo(path) != nil { throw VFSError.notDirectory(path.description) }
            // A folder that was only the prefix of its objects went away with the last of
            // them, deleted through ossftp moments ago: `rm -r` and FTP clients deleting a
            // tree remove the folder next, and it is gone as they asked.
            if await cache.vanishedWithItsObjects(prefix) {
                await invalidate(prefix)
                await noteEmptied(above: [prefix])
                return
            }
            throw VFSError.notFound(path.description)
        }
        // A marker another tool gave a body holds data no listing shows: removing the
        // directory would destroy it unseen.
        if marker.size > 0 { throw VFSError.directoryNotEmpty(path.description) }
        try await storeCall(path) { try await store.delete(prefix) }
        await invalidate(prefix)
        // A folder made or a file stored in it meanwhile by another client (its 257 or 226
        // sent): the RMD answered 250 and the folder stayed, without its marker. As if that
        // came first, the marker goes back and the folder is not empty. (One made after this
        // look still passes: a store cannot remove a key on the condition that no other exists.)
        let arrived = try await storeCall(path) {
            try await store.listPage(ListRequest(prefix: prefix, delimiter: nil, maxKeys: 2)).objects
                .filter { !$0.key.utf8.elementsEqual(prefix.utf8) }
        }
        if !arrived.isEmpty {
            try await storeCall(path) { _ = try await store.put(prefix, body: .bytes([]), metadata: [:]) }
            await invalidate(prefix)
            throw VFSError.directoryNotEmpty(path.description)
        }
        await noteEmptied(above: [prefix])
    }

    public func setModificationTime(_ path: VFSPath, _ time: Double) async throws {
        if !path.isRoot {
            let key = try key(for: path)
            try await awaitPendingUploads(of: key, path)
            // The stored time as the store has it now, not a cached answer up to the TTL old:
            // a time set meanwhile elsewhere would make this one look done already.
            await invalidate(key)
        }
        // As in stat: a directory shadows a file of the same name, which is not to be changed
        // through a name that shows the directory.
        async let isDirectory = directoryExists(path)
        async let file = fileInfo(path)
        if try await isDirectory {
            throw VFSError.unsupported("directories are key prefixes and keep no modification time")
        }
        guard let info = try await file else { throw VFSError.notFound(path.description) }
        guard UTCDate.validated(time) != nil else {
            throw VFSError.invalidRange("\(path): a time outside the years 0 to 9999")
        }
        var metadata = info.metadata
        let formatted = Self.format(time)
        // Setting the time it has (cp -p or rsync run again) copies nothing: a copy onto itself
        // would change its Last-Modified and ETag for every other client.
        if let stored = Self.storedTime(metadata), Self.format(stored) == formatted { return }
        metadata["mtime"] = formatted
        try await storeCall(path) { try await store.replaceMetadata(info.key, metadata: metadata) }
        await invalidate(info.key)
    }

    public func space() async throws -> VFSSpace {
        .unlimited
    }
}
