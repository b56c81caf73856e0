import ArgumentParser
import Foundation
import FuseFrontend
import OSSVFS

/// `ossftp mount MOUNTPOINT`: the bucket as a file system, with the FTP server's semantics.
/// Credentials come from the environment (`OSS_ACCESS_KEY_ID`/`OSS_ACCESS_KEY_SECRET`, or
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` for s3) or from `--credentials_file`.
struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount", abstract: "Mount a bucket with FUSE (unmount with fusermount3 -u, SIGINT or SIGTERM).")

    @Argument(help: "An existing empty directory to mount on.")
    var mountpoint: String

    @Option(help: "local, oss or s3.")
    var provider: String = "local"

    @Option(help: "The bucket (for local: a folder under --local_root).")
    var bucket: String

    @Option(help: "Show only this key prefix (a folder of the bucket) as the root.")
    var prefix: String = ""

    @OptionGroup var store: StoreOptions

    @Option(name: .customLong("local_root"), help: "Folder of the local provider (default data/local).")
    var localRoot: String = "data/local"

    @Option(name: .customLong("credentials_file"),
            help: "A file with the access key id on its first line and the secret on its second; only its owner may read it.")
    var credentialsFile: String?

    @Flag(name: [.customShort("f"), .long], help: "Stay in the foreground (otherwise detach once mounted).")
    var foreground = false

    @Flag(name: .customLong("read_only"), help: "Mount read-only.")
    var readOnly = false

    @Flag(name: .customLong("allow_other"), help: "Let other users use the mount.")
    var allowOther = false

    @Option(help: "Owner shown for files (default: the caller).")
    var uid: UInt32?

    @Option(help: "Group shown for files (default: the caller's).")
    var gid: UInt32?

    @Option(name: .customLong("file_mode"), help: "Mode shown for files, octal (default 644).")
    var fileMode: String = "644"

    @Option(name: .customLong("dir_mode"), help: "Mode shown for directories, octal (default 755).")
    var directoryMode: String = "755"

    @Option(name: .customLong("cache_ttl"), help: "Seconds a looked-up name is trusted (default 5).")
    var cacheTTL: Double = 5

    @Option(name: .customLong("attr_timeout"), help: "Seconds the kernel trusts attributes (default 1).")
    var attributeTimeout: Double = 1

    @Option(name: .customLong("spool_dir"), help: "Where uploads and files changed in place are staged.")
    var spoolDir: String?

    @Option(name: .customLong("spool_budget_mb"), help: "Disk the spool may use at once (default 1024).")
    var spoolBudgetMB: Int = 1024

    @Option(name: .customLong("read_ahead_mb"), help: "Largest ranged GET of a read (default 64).")
    var readAheadMB: Int = 64

    @Option(help: "refuse (mv copies, as between file systems), copy or native.")
    var rename: String = "refuse"

    @Option(name: .customLong("max_rewrite_mb"),
            help: "Largest existing file that can be changed in place; beyond it such writes fail with EFBIG (default 1024).")
    var maxRewriteMB: Int = 1024

    func validate() throws {
        guard ["local", "oss", "s3"].contains(provider) else { throw ValidationError("--provider must be local, oss or s3") }
        guard UInt32(fileMode, radix: 8) != nil, UInt32(directoryMode, radix: 8) != nil else {
            throw ValidationError("--file_mode and --dir_mode are octal, like 644")
        }
        guard ["refuse", "copy", "native"].contains(rename) else { throw ValidationError("--rename must be refuse, copy or native") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: mountpoint, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("mount point \(mountpoint) is not a directory")
        }
    }

    func run() async throws {
        if !foreground { try detach() }
        MallocTuning.apply()
        let spoolDirectory = spoolDir ?? NSTemporaryDirectory() + "ossftp-mount-\(getuid())"
        let spool = SpoolConfiguration(directory: spoolDirectory, budget: SpoolBudget(limit: Int64(spoolBudgetMB) << 20))
        let renamePolicy: RenamePolicy = switch rename {
        case "copy": .copy(maxDirectoryObjects: 1000)
        case "native": .native
        default: .refuse
        }
        let objectStore = try await makeStore()
        let vfs = ObjectVFS(store: objectStore, homeDirectory: prefix, options: ObjectVFS.Options(
            spool: spool, readAhead: ReadAheadConfiguration(maxWindow: readAheadMB << 20), renamePolicy: renamePolicy,
            caches: MetadataCacheRegistry(ttl: cacheTTL)))
        let options = FuseMountOptions(
            uid: uid ?? getuid(), gid: gid ?? getgid(), fileMode: UInt32(fileMode, radix: 8)!,
            directoryMode: UInt32(directoryMode, radix: 8)!, readOnly: readOnly, allowOther: allowOther,
            maxRewriteSize: UInt64(maxRewriteMB) << 20, stagingDirectory: spoolDirectory, attributeTimeout: attributeTimeout)
        let filesystem = FuseFilesystem(vfs: vfs, options: options)
        let fsName = "ossftp:\(provider)/\(bucket)"
        // libfuse blocks its thread until unmounted: a thread of its own, not the cooperative pool.
        let status = await withCheckedContinuation { (done: CheckedContinuation<Int32, Never>) in
            let mountpoint = self.mountpoint
            Thread { done.resume(returning: FuseOperations.run(filesystem, mountpoint: mountpoint, fsName: fsName)) }.start()
        }
        if status != 0 { throw ExitCode(status) }
    }

    private func makeStore() async throws -> any ObjectStore {
        if provider == "local" {
            do {
                return try LocalStore(root: localRoot, bucket: bucket)
            } catch {
                throw ValidationError("local bucket \(localRoot)/\(bucket) does not exist")
            }
        }
        let credentials = try loadCredentials()
        let pathStyle: Bool?
        do { pathStyle = try StoreOptions.pathStyle(store.addressing) } catch { throw ValidationError("\(error)") }
        let factory = StoreFactory(
            provider: provider == "oss" ? .oss : .s3, endpoint: try store.endpoint.map { try StoreEndpoint($0) },
            region: store.region, pathStyle: pathStyle)
        return try await factory.makeStore(bucket: bucket, credentials: credentials)
    }

    private func loadCredentials() throws -> StoreCredentials {
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
        return try StoreOptions.environmentCredentials(for: provider == "oss" ? .oss : .s3,
                                                       alternative: ", or give --credentials_file")
    }

    /// Starts this command again in the foreground, detached, and returns (exits) once the
    /// mount is in place, or fails with the child's status if it ends first.
    private func detach() throws -> Never {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0].hasPrefix("/")
            ? CommandLine.arguments[0] : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0])
        child.arguments = Array(CommandLine.arguments.dropFirst()) + ["--foreground"]
        child.standardInput = FileHandle.nullDevice
        child.standardOutput = FileHandle.nullDevice
        try child.run()
        let target = URL(fileURLWithPath: mountpoint).standardizedFileURL.path
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if Self.isMounted(target) { Foundation.exit(0) }
            if !child.isRunning { Foundation.exit(child.terminationStatus == 0 ? 1 : child.terminationStatus) }
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
