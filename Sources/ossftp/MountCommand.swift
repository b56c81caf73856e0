import ArgumentParser
import Foundation
import FuseFrontend
import OSSVFS

/// `ossftp mount MOUNTPOINT`: the bucket as a file system, with the FTP server's semantics.
/// The store, bucket, prefix and credentials come from flags, or from an account of config.json
/// (`--config` and `--account`; flags given as well win). Otherwise credentials come from the
/// environment (`OSS_ACCESS_KEY_ID`/`OSS_ACCESS_KEY_SECRET`, or `AWS_ACCESS_KEY_ID`/
/// `AWS_SECRET_ACCESS_KEY` for s3) or from `--credentials_file`.
struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount", abstract: "Mount a bucket with FUSE (unmount with fusermount3 -u, SIGINT or SIGTERM).")

    @Argument(help: "An existing empty directory to mount on.")
    var mountpoint: String

    @Option(help: "config.json to take the store and an account from (see --account).")
    var config: String?

    @Option(help: "Mount this account of config.json (its login_username): its bucket, home_dir as the prefix, credentials and, when read-only, read-only.")
    var account: String?

    @Option(help: "local, oss or s3 (default: the --account's, else local).")
    var provider: String?

    @Option(help: "The bucket (for local: a folder under --local_root); the account's when not given.")
    var bucket: String?

    @Option(help: "Show only this key prefix (a folder of the bucket) as the root; the account's home_dir when not given.")
    var prefix: String?

    @OptionGroup var store: StoreOptions

    @Option(name: .customLong("local_root"), help: "Folder of the local provider (default: the --config file's, with --account; else data/local).")
    var localRoot: String?

    @Option(name: .customLong("credentials_file"),
            help: "A file with the access key id on its first line and the secret on its second; only its owner may read it.")
    var credentialsFile: String?

    @Flag(name: [.customShort("f"), .long], help: "Stay in the foreground (otherwise detach once mounted).")
    var foreground = false

    @Flag(name: .customLong("allow_non_empty"), help: "Mount on a directory that holds files (hidden while mounted).")
    var allowNonEmpty = false

    @Flag(name: .customLong("read_only"), help: "Mount read-only.")
    var readOnly = false

    @Flag(name: .customLong("allow_other"), help: "Let other users use the mount.")
    var allowOther = false

    @Flag(name: .customLong("ignore_chmod"),
          help: "chmod, chown and times on directories succeed and change nothing (for cp -a and rsync -a); by default they fail with EPERM and ENOTSUP.")
    var ignoreChmod = false

    @Flag(name: .customLong("exact_times"),
          help: "Every file's time is its own mtime metadata, asked of the store, never a listing's Last-Modified: ls -l costs a request per file (as s3fs), and rsync -a with --delete into an S3 or OSS bucket sees the times it set.")
    var exactTimes = false

    @Option(help: "Owner shown for files (default: the caller).")
    var uid: UInt32?

    @Option(help: "Group shown for files (default: the caller's).")
    var gid: UInt32?

    @Option(name: .customLong("file_mode"), help: "Mode shown for files, octal.")
    var fileMode: String = "644"

    @Option(name: .customLong("dir_mode"), help: "Mode shown for directories, octal.")
    var directoryMode: String = "755"

    @Option(name: .customLong("cache_ttl"), parsing: .unconditional, help: "Seconds a looked-up name is trusted.")
    var cacheTTL: Double = 5

    @Option(name: .customLong("attr_timeout"), parsing: .unconditional, help: "Seconds the kernel trusts attributes.")
    var attributeTimeout: Double = 1

    @Option(name: .customLong("spool_dir"), help: "Where uploads and files changed in place are staged.")
    var spoolDir: String?

    @Option(name: .customLong("spool_budget_mb"), parsing: .unconditional,
            help: "Disk the spool may use at once for bytes waiting for the store; beside it, each file being written keeps its first 16 MiB part, and one opened to read and write its parts up to --max_rewrite_mb, until its close.")
    var spoolBudgetMB: Int = 1024

    @Option(name: .customLong("read_ahead_mb"), parsing: .unconditional, help: "Largest ranged GET of a read.")
    var readAheadMB: Int = 64

    // One range at a time: the kernel already asks for up to 1 MiB ahead, and a second range
    // in flight made a sequential read no faster here (1.47 s against 1.41 s for 1 GiB from
    // SeaweedFS reading its disk) for 25 MiB more memory (100 MiB peak against 77).
    @Option(name: .customLong("read_ahead_ranges"), parsing: .unconditional,
            help: "Ranged GETs a sequential read runs ahead at once.")
    var readAheadRanges: Int = 1

    @Option(name: .customLong("kernel_read_ahead_kb"), parsing: .unconditional,
            help: "The kernel's read-ahead on the mount in KiB (needs root; 0 keeps the kernel's 128).")
    var kernelReadAheadKB: Int = 1024

    @Option(help: "refuse (mv copies, as between file systems), copy or native.")
    var rename: String = "refuse"

    @Option(name: .customLong("max_rewrite_mb"), parsing: .unconditional,
            help: "Largest existing file that can be changed in place (beyond it such writes fail with EFBIG), and largest new file that can be read back and patched anywhere while written.")
    var maxRewriteMB: Int = 1024

    mutating func validate() throws {
        // libfuse moves the process to / as it mounts (in the foreground too): relative paths
        // are taken from the folder the command ran in, as the help says, before that. They
        // were read from / after it: an empty bucket listed, every change in place ENOENT.
        let folder = FileManager.default.currentDirectoryPath
        localRoot = localRoot.map { ServeSettings.absolute($0, from: folder) }
        spoolDir = spoolDir.map { ServeSettings.absolute($0, from: folder) }
        config = config.map { ServeSettings.absolute($0, from: folder) }
        credentialsFile = credentialsFile.map { ServeSettings.absolute($0, from: folder) }
        if let provider { guard ["local", "oss", "s3"].contains(provider) else { throw ValidationError("--provider must be local, oss or s3") } }
        guard (config == nil) == (account == nil) else { throw ValidationError("--config and --account go together") }
        guard bucket != nil || account != nil else { throw ValidationError("give --bucket, or --config and --account") }
        guard UInt32(fileMode, radix: 8) != nil, UInt32(directoryMode, radix: 8) != nil else {
            throw ValidationError("--file_mode and --dir_mode are octal, like 644")
        }
        guard ["refuse", "copy", "native"].contains(rename) else { throw ValidationError("--rename must be refuse, copy or native") }
        // Each named alone, with its value, as serve names them.
        func require(_ flag: String, _ value: some BinaryInteger & CustomStringConvertible, in range: ClosedRange<Int>,
                     _ unit: String = "") throws {
            guard !range.contains(Int(value)) else { return }
            throw ValidationError("--\(flag) is \(value); it must be \(range.lowerBound) to \(range.upperBound)\(unit)")
        }
        try require("read_ahead_mb", readAheadMB, in: 1...4096)
        try require("read_ahead_ranges", readAheadRanges, in: 1...64)
        // Sizes become bytes and times nanoseconds in 64 bits: beyond these they overflowed.
        // Two parts at least, as `serve` requires: with less, almost every upload to S3 or OSS
        // failed with ENOSPC (a part's space is reserved as it starts).
        let partMB = SpoolConfiguration.defaultPartSize >> 20
        try require("spool_budget_mb", spoolBudgetMB, in: 2 * partMB...ServeSettings.largestMB, " (two parts of \(partMB) MiB at least)")
        try require("max_rewrite_mb", maxRewriteMB, in: 0...ServeSettings.largestMB)
        let longest = Double(ServeSettings.longestSeconds)
        guard (0...longest).contains(cacheTTL), (0...longest).contains(attributeTimeout) else {
            throw ValidationError("--cache_ttl and --attr_timeout must be 0 to \(ServeSettings.longestSeconds) seconds")
        }
        try require("kernel_read_ahead_kb", kernelReadAheadKB, in: 0...(1 << 20))
        var status = stat()
        if stat(mountpoint, &status) != 0 && errno == ENOTCONN {
            // A mount whose process ended (kill -9) until it is unmounted.
            throw ValidationError("\(mountpoint) is a mount whose process has ended; unmount it first (fusermount3 -u \(mountpoint))")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: mountpoint, isDirectory: &isDirectory) else {
            throw ValidationError("mount point \(mountpoint) does not exist (make it first: mkdir \(mountpoint))")
        }
        guard isDirectory.boolValue else {
            throw ValidationError("mount point \(mountpoint) is not a directory")
        }
        // A second mount on top would hide the first (still running, still holding its files).
        let target = URL(fileURLWithPath: mountpoint).resolvingSymlinksInPath().standardizedFileURL.path
        guard !Self.isMounted(target) else {
            throw ValidationError("\(mountpoint) is already a mount point; unmount it first (fusermount3 -u \(mountpoint))")
        }
        // libfuse 3 mounts over files without a word; they would be hidden while mounted.
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: mountpoint)) ?? []
        guard entries.isEmpty || allowNonEmpty else {
            throw ValidationError("\(mountpoint) is not empty; its files would be hidden while mounted "
                + "(use an empty directory, or --allow_non_empty)")
        }
    }

    func run() async throws {
        do { try SpoolFolder.prepare(spoolDirectory) } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
        // Said before detaching, where the user sees it.
        if let warning = SpoolFolder.roomWarning(spoolDirectory, budget: Int64(spoolBudgetMB) << 20,
                                                 kept: FuseFilesystem.keptHeaderBytes) {
            FileHandle.standardError.write(Data("ossftp: warning: \(warning)\n".utf8))
        }
        // What to mount, before detaching: its warnings (the seed's config.json read as OSS) and
        // errors reach the user's terminal, not only mount.log.
        let target = try resolveTarget()
        if !foreground { try detach() }
        MallocTuning.apply()
        OpenFilesLimit.raise()
        // A folder of this run's own in the spool, with a journal: a mount killed mid-upload
        // leaves its multipart uploads and files there, for the next mount to clear.
        let run: SpoolRunFolder
        do { run = try SpoolRunFolder.claim(in: spoolDirectory, prefix: Self.runPrefix) } catch {
            throw ValidationError("cannot make a folder in the spool folder \(spoolDirectory): \(error)")
        }
        var keepRunFolder = false
        defer { if !keepRunFolder { run.remove() } }
        let journal = UploadJournal(directory: run.path + "/journal")
        let spool = SpoolConfiguration(directory: run.path, budget: SpoolBudget(limit: Int64(spoolBudgetMB) << 20),
                                       journal: journal)
        Task { await Self.clearAbandonedRuns(in: spoolDirectory) }
        let renamePolicy: RenamePolicy = switch rename {
        case "copy": .copy(maxDirectoryObjects: 1000)
        case "native": .native
        default: .refuse
        }
        let transport = CurlTransport()
        let objectStore = try await makeStore(target, transport: transport)
        // Said now, not as EXDEV on every rename once mounted.
        if case .native = renamePolicy, !objectStore.capabilities.nativeRename {
            throw ValidationError("--rename native needs a store with its own rename (the local store, or an OSS "
                + "bucket with hierarchical namespace); use --rename copy")
        }
        let objectVFS = ObjectVFS(store: objectStore, homeDirectory: target.prefix, options: ObjectVFS.Options(
            spool: spool, readAhead: ReadAheadConfiguration(maxWindow: readAheadMB << 20, parallelRanges: readAheadRanges), renamePolicy: renamePolicy,
            caches: MetadataCacheRegistry(ttl: cacheTTL)))
        let vfs = PermissionedVFS.limiting(objectVFS, to: target.permissions)
        // The bucket is looked at before mounting: a missing bucket, a wrong secret or a store
        // that cannot be reached made a mount that reported success, then failed every call.
        switch await TimeLimit.outcome(within: .seconds(Self.storeCheckSeconds), of: {
            // The credentials first: the bucket's check takes any answer but "no such bucket".
            if let remote = objectStore as? HTTPObjectStore { try await remote.validateCredentials() }
            return try await vfs.stat(.root)
        }) {
        case .success?:
            break
        case .failure(let error)?:
            // The errno's words and the error's own reason (`Permission denied (the bucket b:
            // SignatureDoesNotMatch)`): the credentials' check fails with a store error, whose
            // reason was lost, leaving `Permission denied` alone.
            let known = (error as? VFSError) ?? (error as? ObjectStoreError).map { VFSError($0, path: "the bucket \(target.bucket)") }
            let words = String(cString: strerror(FuseErrno.code(forAny: error)))
            throw Self.cannotUse(target, "\(words)" + (known.map { " (\($0.detail))" } ?? " (\(error))"))
        case nil:
            throw Self.cannotUse(target, "the store did not answer within \(Self.storeCheckSeconds) s")
        }
        var options = FuseMountOptions(
            uid: uid ?? getuid(), gid: gid ?? getgid(), fileMode: UInt32(fileMode, radix: 8)!,
            directoryMode: UInt32(directoryMode, radix: 8)!, readOnly: readOnly || !target.permissions.write, allowOther: allowOther,
            maxRewriteSize: UInt64(maxRewriteMB) << 20, stagingDirectory: run.path, attributeTimeout: attributeTimeout)
        options.kernelReadAheadKB = kernelReadAheadKB
        options.spoolBudget = spool.budget
        options.ignoresModeChanges = ignoreChmod
        options.exactTimes = exactTimes
        // A signal asks for an end: calls waiting on a store that does not answer would hold
        // the unmount for their timeouts and retries (over two minutes). After a grace for
        // what is nearly done, they fail instead; uploads not stored stay in the journal, for
        // the one more try below and then the next mount.
        // Writers waiting for spool space (a program with more files open than the budget holds
        // parts of) wait for nothing that will come: they fail too, or the unmount waits for them.
        let budget = spool.budget
        options.onExitRequested = {
            DispatchQueue.global().asyncAfter(deadline: .now() + Self.exitGraceSeconds) {
                transport.stop()
                Task { await budget.close(reason: "the mount is ending") }
            }
        }
        let filesystem = FuseFilesystem(vfs: vfs, options: options)
        MallocTuning.beforeTrim = { filesystem.sweepExpiredEntries() }
        let fsName = "ossftp:\(target.provider)/\(target.bucket)"
        // libfuse blocks its thread until unmounted: a thread of its own, not the cooperative pool.
        let status = await withCheckedContinuation { (done: CheckedContinuation<Int32, Never>) in
            let mountpoint = self.mountpoint
            Thread { done.resume(returning: FuseOperations.run(filesystem, mountpoint: mountpoint, fsName: fsName)) }.start()
        }
        // Uploads whose abort failed while mounted (the store was down) are still in the journal:
        // one more try now. What still fails keeps this run's folder, which the next mount finds
        // unlocked and clears; removing it would lose those uploads for good, billed.
        let lastTry = CurlTransport()
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.exitGraceSeconds) { lastTry.stop() }
        let counts = await UploadRecovery.recover(journal: journal, transport: lastTry) {
            FileHandle.standardError.write("ossftp mount: \($0)\n".data(using: .utf8)!)
        }
        keepRunFolder = counts.failed > 0
        if status != 0 { throw ExitCode(status) }
    }

    /// What to mount, from flags over the config.json account over defaults.
    struct Target {
        var provider = "local"
        var bucket = ""
        var prefix = ""
        /// Relative to the folder the command ran in (libfuse moves the process to / later).
        var localRoot = ServeSettings.absolute("data/local", from: FileManager.default.currentDirectoryPath)
        var endpoint: String?
        var region: String?
        var addressing: String?
        var s3Checksum: String?
        /// OSS: the seed's `bucket_endpoints` of config.json, and its `internal`.
        var bucketEndpoints: [String: String] = [:]
        var useInternalEndpoint: Bool?
        var credentials: StoreCredentials?
        /// The account's permissions, enforced as the FTP server does.
        var permissions = AccountPermissions.full
    }

    func resolveTarget() throws -> Target {
        var target = Target()
        do {
            if let config, let account {
                let file = try ConfigFile.load(config)
                let server = file.modules.ossftp
                let accounts = file.modules.accounts ?? []
                guard let index = accounts.firstIndex(where: { $0.login_username == account }) else {
                    throw ConfigError("\(config): no account \(account) in modules.accounts")
                }
                let entry = accounts[index]
                let field = "\(config): modules.accounts[\(index)]"
                // Paths in the file are taken from its folder, as `ossftp serve` takes them.
                let folder = URL(fileURLWithPath: config).standardizedFileURL.deletingLastPathComponent().path
                // The account's own store settings over the server's.
                // The server's endpoint, region and addressing only for an account of its provider.
                func own(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }
                // As `serve` reads the same file: the seed's settings mean OSS.
                var inferred: String?
                if own(server?.provider) == nil, provider == nil,
                    let mark = ServeSettings.seedOSSSetting(server: server, accounts: accounts)
                {
                    if ProcessInfo.processInfo.environment[Self.warnedVariable] == nil {
                        FileHandle.standardError.write(Data("ossftp mount: warning: \(ServeSettings.seedOSSWarning(mark))\n".utf8))
                    }
                    inferred = "oss"
                }
                // `--provider` names the server's provider, as for `serve`.
                let serverProvider = provider?.lowercased() ?? own(server?.provider)?.lowercased() ?? inferred ?? target.provider
                target.provider = own(entry.provider)?.lowercased() ?? serverProvider
                let sameStore = target.provider == serverProvider
                target.bucket = entry.bucket_name ?? ""
                target.prefix = entry.home_dir ?? ""
                target.localRoot = server?.local_root.map { ServeSettings.absolute($0, from: folder) } ?? target.localRoot
                target.endpoint = own(entry.endpoint) ?? (sameStore ? own(server?.endpoint) : nil)
                target.region = own(entry.region) ?? (sameStore ? server?.region : nil)
                target.addressing = own(entry.addressing) ?? (sameStore ? server?.addressing : nil)
                target.s3Checksum = server?.s3_checksum
                do {
                    target.bucketEndpoints = try StoreFactory.parseBucketEndpoints(server?.bucket_endpoints ?? "")
                } catch {
                    throw ConfigError("\(config): \(error)")
                }
                target.useInternalEndpoint = server?.internal?.value
                if let id = entry.access_id, !id.isEmpty { target.credentials = try entry.credentials(field: field, relativeTo: folder) }
                target.permissions = try entry.resolvedPermissions(field: field)
            }
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
        target.provider = provider ?? target.provider
        guard ["local", "oss", "s3"].contains(target.provider) else {
            throw ValidationError("provider must be local, oss or s3, got \(target.provider)")
        }
        target.bucket = bucket ?? target.bucket
        guard !target.bucket.isEmpty else { throw ValidationError("the account has no bucket_name; give --bucket") }
        target.prefix = prefix ?? target.prefix
        target.localRoot = localRoot ?? target.localRoot
        target.endpoint = store.endpoint ?? target.endpoint
        target.region = store.region ?? target.region
        target.addressing = store.addressing ?? target.addressing
        target.s3Checksum = store.s3Checksum ?? target.s3Checksum
        return target
    }

    /// Set for the detached child: the parent has said the warnings already.
    static let warnedVariable = "OSSFTP_MOUNT_WARNED"

    /// Seconds the store's requests may go on once a signal asked the mount to end, and again
    /// for the last try at what the journal still holds.
    static let exitGraceSeconds = 10.0

    /// Says why the bucket cannot be mounted, and the exit status for it (EX_UNAVAILABLE): a
    /// fault of the store or the credentials, not of the command line (no usage printed).
    static func cannotUse(_ target: Target, _ reason: String) -> ExitCode {
        FileHandle.standardError.write("ossftp mount: cannot use \(target.provider) bucket \(target.bucket): \(reason)\n".data(using: .utf8)!)
        return ExitCode(69)
    }

    /// How long the store may take to answer the check made before mounting.
    static let storeCheckSeconds = 30

    private func makeStore(_ target: Target, transport: CurlTransport) async throws -> any ObjectStore {
        if target.provider == "local" {
            do {
                return try LocalStore(root: target.localRoot, bucket: target.bucket)
            } catch {
                // A missing bucket, as on S3 and OSS: the store's fault, not the command line's.
                throw Self.cannotUse(target, "\(target.localRoot)/\(target.bucket) does not exist")
            }
        }
        try StoreOptions.requireEndpoint(target.endpoint, isS3: target.provider == "s3")
        let credentials = try loadCredentials(target)
        let pathStyle: Bool?
        let checksum: StoreDialect.BodyChecksum
        do {
            pathStyle = try StoreOptions.pathStyle(target.addressing)
            checksum = try StoreOptions.s3Checksum(target.s3Checksum)
        } catch { throw ValidationError("\(error)") }
        let factory = StoreFactory(
            provider: target.provider == "oss" ? .oss : .s3, endpoint: try target.endpoint.map { try StoreEndpoint($0) },
            region: target.region, pathStyle: pathStyle, useInternalEndpoint: target.useInternalEndpoint,
            bucketEndpoints: target.bucketEndpoints, s3Checksum: checksum, transport: transport)
        return try await factory.makeStore(bucket: target.bucket, credentials: credentials)
    }

    private func loadCredentials(_ target: Target) throws -> StoreCredentials {
        if let credentialsFile {
            // Read as config.json's `file:` secrets are: the file must be its owner's alone.
            let lines: [String]
            do {
                lines = try ServeSettings.ownerOnlyLines(credentialsFile, field: "--credentials_file")
            } catch let error as ConfigError {
                throw ValidationError(error.description)
            }
            guard lines.count >= 2 else {
                throw ValidationError("--credentials_file: expected the key id on line 1 and the secret on line 2")
            }
            return StoreCredentials(accessKeyID: lines[0], secretAccessKey: lines[1])
        }
        if let fromAccount = target.credentials { return fromAccount }
        return try StoreOptions.environmentCredentials(for: target.provider == "oss" ? .oss : .s3,
                                                       alternative: ", or give --credentials_file or --account")
    }

    /// The name of each run's folder in the spool folder, before a random part.
    static let runPrefix = "mount-run-"

    /// Clears what killed mounts left in the spool folder: their multipart uploads are
    /// aborted (nothing half-written stays in the bucket, billed) and their files removed.
    static func clearAbandonedRuns(in spool: String) async {
        let transport = CurlTransport()
        for folder in SpoolRunFolder.abandoned(in: spool, prefix: runPrefix) {
            let journal = UploadJournal(directory: folder.path + "/journal")
            let counts = await UploadRecovery.recover(journal: journal, transport: transport) {
                FileHandle.standardError.write("ossftp mount: \($0)\n".data(using: .utf8)!)
            }
            // A mount never reports an upload done before it is stored: nothing is left to finish.
            if counts.failed == 0 { folder.remove() }
        }
    }

    /// The spool folder: `--spool_dir`, or one per user under the temporary folder.
    var spoolDirectory: String { spoolDir ?? NSTemporaryDirectory() + "ossftp-mount-\(getuid())" }

    /// Starts this command again in the foreground, detached, and returns (exits) once the
    /// mount is in place, or fails with the child's status if it ends first. The child logs to
    /// `mount.log` in the spool folder, not to this command's output: whoever ran the command
    /// (a shell pipeline, a script capturing its output) must not wait on a mount's lifetime.
    private func detach() throws -> Never {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0].hasPrefix("/")
            ? CommandLine.arguments[0] : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0])
        child.arguments = Array(CommandLine.arguments.dropFirst()) + ["--foreground"]
        // This process said the warnings of resolving the target; the child, whose errors it
        // repeats, need not say them again.
        child.environment = ProcessInfo.processInfo.environment.merging([Self.warnedVariable: "1"]) { $1 }
        child.standardInput = FileHandle.nullDevice
        child.standardOutput = FileHandle.nullDevice
        let logPath = spoolDirectory + "/mount.log"
        let logStart = (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard log >= 0 else { throw ValidationError("cannot write the mount's log \(logPath): errno \(errno)") }
        child.standardError = FileHandle(fileDescriptor: log, closeOnDealloc: true)
        try child.run()
        let target = URL(fileURLWithPath: mountpoint).standardizedFileURL.path
        let deadline = MonotonicTime.now + 30
        while MonotonicTime.now < deadline {
            if Self.isMounted(target) { Foundation.exit(0) }
            if !child.isRunning {
                // What it said before it ended is the error the caller needs.
                if let text = FileManager.default.contents(atPath: logPath), text.count > logStart {
                    FileHandle.standardError.write(text.suffix(from: logStart))
                }
                Foundation.exit(child.terminationStatus == 0 ? 1 : child.terminationStatus)
            }
            usleep(50_000)
        }
        child.terminate()
        FileHandle.standardError.write("ossftp mount: \(target) was not mounted within 30 s\n".data(using: .utf8)!)
        Foundation.exit(1)
    }

    /// Whether a FUSE file system is mounted at `path` (from /proc/self/mountinfo).
    static func isMounted(_ path: String) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4] == path && line.contains("fuse")
        }
    }
}
