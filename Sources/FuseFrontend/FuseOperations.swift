#if canImport(Glibc)
import Glibc
#endif
import CFuse3
import Foundation
import OSSVFS

/// libfuse's high-level operation table, bound to a ``FuseFilesystem``, and the mount's run loop.
///
/// Callbacks are C functions: they find the filesystem in the FUSE context's private data
/// (set by `fuse_main_real`) and call it. What object storage cannot do is answered at once
/// with the errno the man pages give for a file system without the feature: hard links,
/// symbolic links and device nodes EPERM; readlink EINVAL (nothing here is a link).
public enum FuseOperations {
    static func filesystem() -> FuseFilesystem {
        Unmanaged<FuseFilesystem>.fromOpaque(fuse_get_context()!.pointee.private_data).takeUnretainedValue()
    }

    /// The path libfuse passes. Bytes that are not UTF-8 give a path with a NUL, which
    /// ``FuseFilesystem`` refuses (EINVAL) instead of storing a name with U+FFFD in it.
    static func string(_ path: UnsafePointer<CChar>?) -> String {
        guard let path else { return "/" }
        return String(validatingCString: path) ?? "\0"
    }

    /// The process behind the request being served. The kernel passes the calling thread's
    /// id; descriptors belong to its thread group, read from /proc. Nil for the kernel's own
    /// requests (id 0) or a thread already gone.
    static func callingProcess() -> pid_t? {
        guard let thread = fuse_get_context()?.pointee.pid, thread > 0,
            let file = fopen("/proc/\(thread)/status", "r")
        else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cString: line)
            if text.hasPrefix("Tgid:") { return pid_t(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return nil
    }

    /// The table.
    static func make() -> fuse_operations {
        var ops = fuse_operations()
        ops.`init` = { connection, config in
            let filesystem = FuseOperations.filesystem()
            if let config {
                config.pointee.entry_timeout = filesystem.options.attributeTimeout
                config.pointee.attr_timeout = filesystem.options.attributeTimeout
                config.pointee.negative_timeout = 0
                // Unlinking an open file removes it now, not by renaming it to .fuse_hidden
                // (rename may be off, and a hidden object would linger in the bucket).
                config.pointee.hard_remove = 1
            }
            if let connection {
                connection.pointee.want |= UInt32(FUSE_CAP_ATOMIC_O_TRUNC)
                connection.pointee.max_write = 1 << 20
            }
            FuseOperations.filesystem().session.withLock { $0 = fuse_get_session(fuse_get_context()!.pointee.fuse) }
            return fuse_get_context()!.pointee.private_data
        }
        ops.destroy = { _ in
            let filesystem = FuseOperations.filesystem()
            filesystem.abandonOpenFiles()
            filesystem.endedCleanly.withLock { $0 = true }
        }
        ops.getattr = { path, status, info in
            guard let status else { return -EINVAL }
            // No path: an open file whose name was unlinked (libfuse asks after ftruncate and
            // futimens): its descriptor's attributes, not the root's.
            if path == nil, let info { return FuseOperations.filesystem().getattr(handle: info.pointee.fh, &status.pointee) }
            return FuseOperations.filesystem().getattr(FuseOperations.string(path), &status.pointee)
        }
        ops.opendir = { path, info in
            guard let info else { return -EINVAL }
            let (status, handle) = FuseOperations.filesystem().opendir(FuseOperations.string(path))
            info.pointee.fh = handle
            return status
        }
        ops.readdir = { _, buffer, filler, offset, info, flags in
            guard let info else { return -EINVAL }
            let plus = flags.rawValue & FUSE_READDIR_PLUS.rawValue != 0
            let filesystem = FuseOperations.filesystem()
            let sink = FillerSink(buffer: buffer, filler: filler, plus: plus, plusForFiles: !filesystem.options.exactTimes)
            return filesystem.readdir(info.pointee.fh, from: Int64(offset)) { sink.add($0, $1, $2) }
        }
        ops.releasedir = { _, info in info.map { FuseOperations.filesystem().releasedir($0.pointee.fh) } ?? -EINVAL }
        ops.statfs = { _, status in
            guard let status else { return -EINVAL }
            return FuseOperations.filesystem().statfs(&status.pointee)
        }
        ops.mkdir = { path, _ in FuseOperations.filesystem().mkdir(FuseOperations.string(path)) }
        ops.rmdir = { path in FuseOperations.filesystem().rmdir(FuseOperations.string(path)) }
        ops.unlink = { path in FuseOperations.filesystem().unlink(FuseOperations.string(path)) }
        ops.rename = { source, destination, flags in
            FuseOperations.filesystem().rename(FuseOperations.string(source), FuseOperations.string(destination), flags: flags)
        }
        ops.link = { _, _ in -EPERM }
        ops.symlink = { _, _ in -EPERM }
        ops.mknod = { _, _, _ in -EPERM }
        ops.readlink = { _, _, _ in -EINVAL }
        ops.chmod = { path, mode, _ in FuseOperations.filesystem().chmod(FuseOperations.string(path), mode: mode) }
        ops.chown = { path, uid, gid, _ in FuseOperations.filesystem().chown(FuseOperations.string(path), uid: uid, gid: gid) }
        ops.utimens = { path, times, info in
            // times[1] is the modification time; UTIME_NOW and UTIME_OMIT per utimensat(2).
            var modified: Double?
            if let times {
                let spec = times[1]
                if spec.tv_nsec == utimeNow {
                    var now = timespec()
                    clock_gettime(CLOCK_REALTIME, &now)
                    modified = MicrosecondTime(seconds: now.tv_sec, nanoseconds: now.tv_nsec).timeInterval
                } else if spec.tv_nsec != utimeOmit {
                    modified = MicrosecondTime(seconds: spec.tv_sec, nanoseconds: spec.tv_nsec).timeInterval
                }
            }
            return FuseOperations.filesystem().utimens(FuseOperations.string(path), modified: modified, handle: info?.pointee.fh)
        }
        ops.truncate = { path, size, info in
            guard size >= 0 else { return -EINVAL }
            return FuseOperations.filesystem().truncate(FuseOperations.string(path), to: UInt64(size), handle: info?.pointee.fh)
        }
        ops.open = { path, info in
            guard let info else { return -EINVAL }
            let filesystem = FuseOperations.filesystem()
            let (status, handle) = filesystem.open(
                FuseOperations.string(path), flags: info.pointee.flags, process: FuseOperations.callingProcess())
            info.pointee.fh = handle
            if info.pointee.flags & O_ACCMODE != O_RDONLY || filesystem.bypassesCache(handle) { info.pointee.direct_io = 1 }
            return status
        }
        ops.create = { path, _, info in
            guard let info else { return -EINVAL }
            let (status, handle) = FuseOperations.filesystem().create(
                FuseOperations.string(path), flags: info.pointee.flags, process: FuseOperations.callingProcess())
            info.pointee.fh = handle
            // A file being written is read back only through ossftp (and only while its bytes
            // are in the spool), so the kernel must not map it: with direct I/O a shared
            // mapping is refused (ENODEV) instead of the page-in failing later with SIGBUS
            // (sqlite's WAL, any mmap of a new file).
            info.pointee.direct_io = 1
            return status
        }
        ops.read = { _, buffer, size, offset, info in
            guard let info, let buffer, offset >= 0 else { return -EINVAL }
            return FuseOperations.filesystem().read(
                info.pointee.fh, into: UnsafeMutableRawBufferPointer(start: buffer, count: size), at: UInt64(offset))
        }
        ops.write = { _, buffer, size, offset, info in
            guard let info, let buffer, offset >= 0 else { return -EINVAL }
            return FuseOperations.filesystem().write(
                info.pointee.fh, UnsafeRawBufferPointer(start: buffer, count: size), at: UInt64(offset))
        }
        ops.flush = { _, info in
            info.map { FuseOperations.filesystem().flush($0.pointee.fh, process: FuseOperations.callingProcess()) } ?? -EINVAL
        }
        ops.fsync = { _, _, info in info.map { FuseOperations.filesystem().fsync($0.pointee.fh) } ?? -EINVAL }
        ops.release = { _, info in info.map { FuseOperations.filesystem().release($0.pointee.fh) } ?? -EINVAL }
        return ops
    }

    /// Mounts `filesystem` at `mountpoint` and serves it until unmounted (`fusermount3 -u`) or
    /// until SIGINT, SIGTERM or SIGHUP (libfuse's handlers end the loop and unmount). Blocks
    /// the calling thread, which must not be an event loop or the cooperative pool: libfuse
    /// runs its own worker threads. Returns libfuse's exit status.
    public static func run(_ filesystem: FuseFilesystem, mountpoint: String, fsName: String) -> Int32 {
        // max_idle_threads given: libfuse 3.14's fuse_main passes its "unset" (4294967295) on to
        // a setter that refuses it, with a message on every mount.
        // max_threads up from libfuse's 10: a worker parks while the store answers or while a
        // write waits its turn on a busy file (up to 3 s), and ten such waits would stall every
        // other call on the mount.
        var options = ["fsname=\(fsName.replacingOccurrences(of: ",", with: "_"))", "subtype=ossftp", "default_permissions",
                       "max_idle_threads=16"]
        // An option libfuse has known since 3.12; older ones refuse the mount over it.
        if FuseLibrary.version >= 312 { options.append("max_threads=128") }
        if filesystem.options.allowOther { options.append("allow_other") }
        if filesystem.options.readOnly { options.append("ro") }
        let arguments = ["ossftp", mountpoint, "-f", "-o", options.joined(separator: ",")]
        if let real = realpath(mountpoint, nil) {
            filesystem.mountpoint.withLock { $0 = String(cString: real) }
            free(real)
        }
        let argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: arguments.count + 1)
        for (index, argument) in arguments.enumerated() { argv[index] = strdup(argument) }
        argv[arguments.count] = nil
        defer {
            for index in 0..<arguments.count { free(argv[index]) }
            argv.deallocate()
        }
        var ops = make()
        let context = Unmanaged.passRetained(filesystem)
        defer { context.release() }
        // Threads started from Swift's pools inherit a mask blocking every signal; the loop's
        // thread must take the ones that end it.
        var endSignals = sigset_t()
        sigemptyset(&endSignals)
        for number in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&endSignals, number) }
        pthread_sigmask(SIG_UNBLOCK, &endSignals, nil)
        let watcher = ExitWatcher(filesystem: filesystem, loopThread: pthread_self())
        watcher.start()
        if filesystem.options.kernelReadAheadKB > 0 {
            raiseReadAhead(of: mountpoint, to: filesystem.options.kernelReadAheadKB)
        }
        defer { watcher.stop() }
        let status = fuse_main_real(Int32(arguments.count), argv, &ops, MemoryLayout<fuse_operations>.size,
                                    context.toOpaque())
        // libfuse answers 8 when a signal ended the loop; the file system was still torn down in
        // order (destroy ran), which is the clean end SIGINT and SIGTERM ask for.
        return status == 8 && filesystem.endedCleanly.withLock({ $0 }) ? 0 : status
    }
}

extension FuseOperations {
    /// Once the mount is up, sets its backing device's read-ahead (`/sys/class/bdi/MAJ:MIN/
    /// read_ahead_kb`). The kernel offers FUSE 128 KiB at mount time and no more; with 1 MiB
    /// (and max_write's 1 MiB pages) a sequential read takes an eighth of the requests. Needs
    /// root; without it the kernel's default stays.
    static func raiseReadAhead(of mountpoint: String, to kilobytes: Int) {
        var before = stat()
        guard stat(mountpoint, &before) == 0 else { return }
        let underlying = before.st_dev
        let thread = Thread {
            for _ in 0..<100 {
                var now = stat()
                if stat(mountpoint, &now) == 0 && now.st_dev != underlying {
                    // glibc's major() and minor() are macros Swift cannot call.
                    let dev = UInt64(now.st_dev)
                    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
                    let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
                    let device = "\(major):\(minor)"
                    let path = "/sys/class/bdi/\(device)/read_ahead_kb"
                    if let file = fopen(path, "w") {
                        fputs("\(kilobytes)\n", file)
                        fclose(file)
                    }
                    return
                }
                usleep(50_000)
            }
        }
        thread.name = "ossftp-fuse-readahead"
        thread.start()
    }
}

/// libfuse's SIGINT/SIGTERM/SIGHUP handler only marks the session as exited; the loop notices
/// when its own thread is interrupted. In a Swift process the signal may land on any thread,
/// so this watcher passes it on to the loop's thread once the session is marked.
private final class ExitWatcher: @unchecked Sendable {
    let filesystem: FuseFilesystem
    let loopThread: pthread_t
    private let done = Lock()
    private var stopped = false

    init(filesystem: FuseFilesystem, loopThread: pthread_t) {
        self.filesystem = filesystem
        self.loopThread = loopThread
    }

    func start() {
        Thread { [self] in
            while !done.withLock({ stopped }) {
                usleep(100_000)
                guard let session = filesystem.session.withLock({ $0 }), fuse_session_exited(session) != 0 else { continue }
                // Under the lock: once stop() ran, the loop's thread may have left libfuse, and
                // SIGTERM there would end the process.
                let first = done.withLock { () -> Bool in
                    guard !stopped else { return false }
                    stopped = true
                    pthread_kill(loopThread, SIGTERM)
                    return true
                }
                if first { filesystem.options.onExitRequested?() }
            }
        }.start()
    }

    func stop() { done.withLock { stopped = true } }
}

/// utimensat(2)'s markers (macros the Glibc module does not export).
private let utimeNow = (1 << 30) - 1
private let utimeOmit = (1 << 30) - 2

/// libfuse's directory buffer and filler for one readdir call. Entries carry their offset, so
/// libfuse passes each buffer straight to the kernel instead of collecting the whole listing.
private struct FillerSink {
    let buffer: UnsafeMutableRawPointer?
    let filler: fuse_fill_dir_t?
    let plus: Bool
    /// Whether files get their listed attributes too (not with `--exact_times`: the kernel
    /// then looks each one up, and getattr asks the store).
    let plusForFiles: Bool

    init(buffer: UnsafeMutableRawPointer?, filler: fuse_fill_dir_t?, plus: Bool, plusForFiles: Bool) {
        self.buffer = buffer
        self.filler = filler
        self.plus = plus
        self.plusForFiles = plusForFiles
    }

    func add(_ name: String, _ status: stat, _ offset: Int64) -> Bool {
        var status = status
        // An entry without FUSE_FILL_DIR_PLUS goes to the kernel with no node, which it then
        // looks up by name (the kernel's fuse_direntplus_link skips a zero node id).
        let isDirectory = status.st_mode & S_IFMT == S_IFDIR
        let flags = plus && (plusForFiles || isDirectory) ? FUSE_FILL_DIR_PLUS : fuse_fill_dir_flags(rawValue: 0)
        return filler?(buffer, name, &status, off_t(offset), flags) == 0
    }
}
