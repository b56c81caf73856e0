import OSSVFS

/// How the mount presents the bucket: who owns its files, their modes, and its limits.
public struct FuseMountOptions: Sendable {
    /// Owner and group shown for every file and directory.
    public var uid: UInt32
    public var gid: UInt32
    /// Modes shown (object storage keeps none).
    public var fileMode: UInt32
    public var directoryMode: UInt32
    /// Mounted read-only: the kernel refuses every change with EROFS.
    public var readOnly: Bool
    /// Other users may use the mount (`allow_other`; needs root or `user_allow_other`).
    public var allowOther: Bool
    /// The largest existing file that can be changed in place (opened for writing without
    /// O_TRUNC): it is copied into the spool, changed there, and uploaded whole on close.
    public var maxRewriteSize: UInt64
    /// Where such copies live.
    public var stagingDirectory: String
    /// The spool's budget, which such copies count against as uploads do (nil: unbounded).
    public var spoolBudget: SpoolBudget?
    /// chmod, chown and directory times succeed without effect, as asked for with
    /// `--ignore_chmod`; otherwise what cannot be kept fails (EPERM, ENOTSUP).
    public var ignoresModeChanges = false
    /// A file's attributes come from the store's answer about that file (its `mtime`
    /// metadata), never from a listing, which carries only Last-Modified (`--exact_times`).
    /// `ls -l` then costs a request per file, as with s3fs, and `rsync -a` with `--delete`
    /// into an S3 or OSS bucket sees the times it set.
    public var exactTimes = false
    /// Seconds the kernel may trust names and attributes it was given.
    public var attributeTimeout: Double
    /// The kernel's read-ahead on the mount, in KiB (its own default is 128); 0 keeps the
    /// kernel's. Larger read-ahead means fewer, larger FUSE reads of a file read in order.
    public var kernelReadAheadKB: Int = 1024
    /// Called once when a signal (SIGINT, SIGTERM, SIGHUP) asks the mount to end, while calls
    /// still running may hold the unmount: the owner may stop waiting for the store then.
    public var onExitRequested: (@Sendable () -> Void)?

    public init(uid: UInt32, gid: UInt32, fileMode: UInt32 = 0o644, directoryMode: UInt32 = 0o755,
                readOnly: Bool = false, allowOther: Bool = false, maxRewriteSize: UInt64 = 1 << 30,
                stagingDirectory: String, attributeTimeout: Double = 1) {
        self.uid = uid
        self.gid = gid
        self.fileMode = fileMode
        self.directoryMode = directoryMode
        self.readOnly = readOnly
        self.allowOther = allowOther
        self.maxRewriteSize = maxRewriteSize
        self.stagingDirectory = stagingDirectory
        self.attributeTimeout = attributeTimeout
    }
}
