import Foundation

/// What ossftp knows about keys of one bucket as seen by one set of credentials: objects
/// (or their absence) and directory prefixes (present or absent), each for a short time.
///
/// One cache per ``StoreIdentity``, shared by every session of the process through
/// ``MetadataCacheRegistry``. Writes made through ossftp invalidate the entries they touch in
/// every cache of the bucket, so a session sees its own writes, and those of other sessions of
/// the same process, at once; changes made by other programs show up within the TTL.
public actor MetadataCache {
    enum Entry {
        case object(ObjectInfo, expires: Double)
        case absent(expires: Double)
        case directory(exists: Bool, expires: Double)

        var expires: Double {
            switch self {
            case .object(_, let expires), .absent(let expires), .directory(_, let expires): return expires
            }
        }
    }

    private let ttl: Double
    private let maxEntries: Int
    // Keyed by bytes: `café` and `café` (a combining accent) are two keys (see ExactName).
    private var objects: [ExactName: Entry] = [:]
    private var directories: [ExactName: Entry] = [:]
    /// Until when the bucket is known to exist (a listing of it answered). Writes do not
    /// forget it: they change keys, not the bucket.
    private var bucketSeenUntil: Double = 0
    /// Directory prefixes whose objects ossftp deleted, until when they may still be listed
    /// though empty (``noteEmptied(_:)``).
    private var emptied: [ExactName: Double] = [:]
    /// Those of them removed by RMD or rmdir (their marker deleted): gone as asked, not as the
    /// side effect of deleting their last object.
    private var removed: [ExactName: Double] = [:]
    /// When expired entries are next dropped (``sweepIfDue()``).
    private var nextSweep: Double = 0
    /// Hits and misses, for the metrics.
    public private(set) var hits = 0
    public private(set) var misses = 0

    public init(ttl: Double, maxEntries: Int = 100_000) {
        self.ttl = ttl
        self.maxEntries = maxEntries
    }

    // Entries' lifetimes run on the monotonic clock: a wall clock set back kept stale sizes
    // and times for as long as the step.
    private var now: Double { MonotonicTime.now }

    /// A cached object lookup: `.some(info)`, `.some(nil)` for a known absence, nil when unknown.
    func object(_ key: String) -> ObjectInfo?? {
        guard let entry = objects[ExactName(key)], entry.expires > now else {
            misses += 1
            VFSMetrics.cacheMisses.increment()
            return nil
        }
        hits += 1
        VFSMetrics.cacheHits.increment()
        if case .object(let info, _) = entry { return .some(info) }
        return .some(nil)
    }

    func setObject(_ key: String, _ info: ObjectInfo?) {
        guard ttl > 0 else { return }
        sweepIfDue()
        trim(&objects)
        objects[ExactName(key)] = info.map { .object($0, expires: now + ttl) } ?? .absent(expires: now + ttl)
    }

    /// Whether a directory prefix is known to exist; nil when unknown.
    func directory(_ prefix: String) -> Bool? {
        guard case .directory(let exists, let expires)? = directories[ExactName(prefix)], expires > now else {
            misses += 1
            VFSMetrics.cacheMisses.increment()
            return nil
        }
        hits += 1
        VFSMetrics.cacheHits.increment()
        return exists
    }

    func setDirectory(_ prefix: String, exists: Bool) {
        guard ttl > 0 else { return }
        sweepIfDue()
        trim(&directories)
        directories[ExactName(prefix)] = .directory(exists: exists, expires: now + ttl)
    }

    /// Notes that ossftp deleted the last objects it knew of under `prefixes`. Stores that keep
    /// real folders (SeaweedFS's filer) go on listing such a folder for seconds after (their
    /// empty-folder cleanup runs later), where S3 lists only prefixes of existing keys: a
    /// listing then checks each of these before it shows it, and RMD or rmdir of one that is gone
    /// succeeds. Kept ten minutes, cache or not.
    func noteEmptied(_ prefixes: Set<String>, removing markers: Set<String> = []) {
        let until = now + Self.emptiedLifetime
        if emptied.count + prefixes.count > maxEntries || removed.count + markers.count > maxEntries {
            let current = now
            emptied = emptied.filter { $0.value > current }
            removed = removed.filter { $0.value > current }
            if emptied.count + prefixes.count > maxEntries { emptied.removeAll() }
            if removed.count + markers.count > maxEntries { removed.removeAll() }
        }
        for prefix in prefixes { emptied[ExactName(prefix)] = until }
        for prefix in markers { removed[ExactName(prefix)] = until }
        // Folders emptied below one removed went with it: made again, it must not bring them
        // back (a write under it clears its own mark, not theirs). They stay noted as emptied,
        // for the listings that a store still shows them in.
        if !markers.isEmpty {
            for entry in emptied.keys where markers.contains(where: { entry.text.hasBytePrefix($0) }) {
                removed[entry] = until
            }
        }
    }

    /// Whether `prefix` went away with the last object under it, deleted through ossftp lately,
    /// and was not itself removed since: an RMD or rmdir of it then succeeds.
    func vanishedWithItsObjects(_ prefix: String) -> Bool {
        guard !mayBeEmptied([prefix]).isEmpty else { return false }
        // Removed itself, or with a folder above it (an RMD takes what no listing shows).
        var folder = prefix.droppingLastByte()
        while true {
            if let until = removed[ExactName(folder + "/")] {
                if until > now { return false }
                removed[ExactName(folder + "/")] = nil
            }
            guard let parent = folder.beforeLastSlashByte() else { return true }
            folder = parent
        }
    }

    /// Those of `prefixes` ossftp emptied lately, which a listing showing them must check: one
    /// call per listed page (nothing to look up while ossftp emptied nothing).
    func mayBeEmptied(_ prefixes: [String]) -> [String] {
        guard !emptied.isEmpty else { return [] }
        let current = now
        return prefixes.filter { prefix in
            guard let until = emptied[ExactName(prefix)] else { return false }
            if until > current { return true }
            emptied[ExactName(prefix)] = nil
            return false
        }
    }

    /// A check found something under `prefix`: listings show it again without checking.
    func clearEmptied(_ prefix: String) {
        emptied[ExactName(prefix)] = nil
    }

    /// How long a prefix ossftp emptied is checked when listed: SeaweedFS 4.48 went on
    /// listing such a folder for about two minutes (a minute here let it come back, empty,
    /// and MKD then said it existed).
    static let emptiedLifetime: Double = 600

    /// Whether a listing showed the bucket to exist within the TTL.
    var bucketKnownToExist: Bool { bucketSeenUntil > now }

    /// Buckets come and go rarely: the answer is kept at least a minute, with the cache off too.
    func bucketExists() {
        bucketSeenUntil = now + max(ttl, 60)
    }

    /// Forgets `key`, its directory form and every ancestor directory (a write may create or
    /// remove them).
    func invalidate(_ key: String) {
        objects[ExactName(key)] = nil
        let bare = key.endsWithSlashByte ? key.droppingLastByte() : key
        objects[ExactName(bare)] = nil
        directories[ExactName(bare + "/")] = nil
        // Written again (its marker, or a key below): such a folder is there, not removed. A
        // file of the folder's name does not bring it back (a mount showed that file as the
        // folder, until remounted).
        if !removed.isEmpty && key.endsWithSlashByte { removed[ExactName(key)] = nil }
        var prefix = bare
        while let parent = prefix.beforeLastSlashByte() {
            prefix = parent
            directories[ExactName(prefix + "/")] = nil
            if !removed.isEmpty { removed[ExactName(prefix + "/")] = nil }
        }
        directories[ExactName("")] = nil
    }

    /// Forgets everything under `prefix` (a directory rename or removal).
    func invalidate(prefix: String) {
        objects = objects.filter { !$0.key.text.hasBytePrefix(prefix) }
        directories = directories.filter { !$0.key.text.hasBytePrefix(prefix) }
        invalidate(prefix)
    }

    /// Entries held, expired ones included (tests).
    var entryCount: Int { objects.count + directories.count }

    /// Drops expired entries every other TTL (at least every second), as entries are added:
    /// otherwise a walk of a large tree would hold every entry it met until the caps, long
    /// after they stopped answering anything.
    private func sweepIfDue() {
        guard now >= nextSweep else { return }
        sweep()
    }

    /// Drops expired entries now (a quiet process, before it gives memory back).
    func sweep() {
        let current = now
        nextSweep = current + max(2 * ttl, 1)
        objects = objects.filter { $0.value.expires > current }
        directories = directories.filter { $0.value.expires > current }
    }

    private func trim(_ table: inout [ExactName: Entry]) {
        guard table.count >= maxEntries else { return }
        let current = now
        table = table.filter { $0.value.expires > current }
        if table.count >= maxEntries { table.removeAll() }
    }
}

/// The process's metadata caches, one per bucket and credentials.
public final class MetadataCacheRegistry: Sendable {
    private let ttl: Double
    private let lock = Lock()
    nonisolated(unsafe) private var caches: [StoreIdentity: MetadataCache] = [:]

    /// Caches whose entries live `ttl` seconds (0 turns caching off; invalidation still runs).
    public init(ttl: Double = 5) {
        self.ttl = ttl
        Self.all.withValue { $0.append(Weak(self)) }
    }

    /// Every registry of the process, held weakly (a reload makes new ones).
    private static let all = LockedBox<[Weak]>([])

    private struct Weak: @unchecked Sendable {
        weak var registry: MetadataCacheRegistry?
        init(_ registry: MetadataCacheRegistry) { self.registry = registry }
    }

    /// Drops the expired entries of every cache of the process: called once it has gone quiet,
    /// before malloc gives free memory back (entries are otherwise dropped only as new ones
    /// come).
    public static func sweepAll() async {
        let registries = all.withValue { list in
            list.removeAll { $0.registry == nil }
            return list.compactMap(\.registry)
        }
        for registry in registries {
            for cache in registry.lock.withLock({ Array(registry.caches.values) }) { await cache.sweep() }
        }
    }

    /// The cache for one bucket and credentials.
    public func cache(for identity: StoreIdentity) -> MetadataCache {
        lock.withLock {
            if let cache = caches[identity] { return cache }
            let cache = MetadataCache(ttl: ttl)
            caches[identity] = cache
            return cache
        }
    }

    private func caches(ofBucket bucket: String) -> [MetadataCache] {
        lock.withLock { caches.filter { $0.key.bucket == bucket }.map(\.value) }
    }

    /// Forgets `key` (and its ancestors) in every cache of the bucket.
    public func invalidate(bucket: String, key: String) async {
        for cache in caches(ofBucket: bucket) { await cache.invalidate(key) }
    }

    /// Forgets everything under `prefix` in every cache of the bucket.
    public func invalidate(bucket: String, prefix: String) async {
        for cache in caches(ofBucket: bucket) { await cache.invalidate(prefix: prefix) }
    }

    /// Notes, in every cache of the bucket, the directory prefixes above `keys` (and a
    /// directory marker's own), just deleted (``MetadataCache/noteEmptied(_:)``).
    public func noteEmptied(bucket: String, above keys: [String]) async {
        var prefixes = Set<String>()
        var markers = Set<String>()
        for key in keys {
            if key.endsWithSlashByte {
                prefixes.insert(key)
                markers.insert(key)
            }
            var path = key.endsWithSlashByte ? key.droppingLastByte() : key
            while let parent = path.beforeLastSlashByte() {
                path = parent
                prefixes.insert(path + "/")
            }
        }
        guard !prefixes.isEmpty else { return }
        for cache in caches(ofBucket: bucket) { await cache.noteEmptied(prefixes, removing: markers) }
    }
}
