import Foundation
import OSSVFS
import Testing
import TestSupport
@testable import FuseFrontend

/// The FUSE operations called directly, as libfuse would, on a local store: no kernel needed.
@Suite struct FuseFilesystemTests {
    /// Runs `body` on a thread of its own, as libfuse's workers are: the operations park their
    /// thread while the VFS works on the cooperative pool, which a test's own thread belongs to.
    func withFilesystem(budget: SpoolBudget? = nil, permissions: AccountPermissions = .full,
                        _ body: @escaping @Sendable (FuseFilesystem, LocalStore) -> Void) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        _ = try folder.make("bucket")
        let store = try LocalStore(root: folder.path, bucket: "bucket")
        let vfs = ObjectVFS(store: store, spool: SpoolConfiguration(directory: folder.path + "/spool"))
        var options = FuseMountOptions(uid: 1000, gid: 100, maxRewriteSize: 64, stagingDirectory: folder.path + "/spool")
        options.spoolBudget = budget
        let filesystem = FuseFilesystem(vfs: PermissionedVFS.limiting(vfs, to: permissions), options: options)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread {
                body(filesystem, store)
                done.resume()
            }.start()
        }
    }

    func write(_ fs: FuseFilesystem, _ handle: UInt64, _ bytes: [UInt8], at offset: UInt64) -> Int32 {
        bytes.withUnsafeBytes { fs.write(handle, $0, at: offset) }
    }

    /// Stores `text` as `key`, from a libfuse-like thread.
    func put(_ store: LocalStore, _ key: String, _ text: String) {
        _ = BlockingBridge.run { try await store.put(key, body: .bytes(Array(text.utf8)), metadata: [:]) }
    }

    /// What `key` holds, as text; nil when it cannot be read.
    func stored(_ store: LocalStore, _ key: String) -> String? {
        (try? BlockingBridge.run { try await collect(store.get(key, range: nil)) }.get()).map { String(decoding: $0, as: UTF8.self) }
    }

    func read(_ fs: FuseFilesystem, _ handle: UInt64, at offset: UInt64, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { fs.read(handle, into: $0, at: offset) }
        return got < 0 ? nil : Array(buffer[0..<Int(got)])
    }

    @Test func aCreatedFileIsVisibleWhileWrittenAndStoredOnFlush() async throws {
        try await withFilesystem { fs, store in
            let (status, handle) = fs.create("/new.txt")
            #expect(status == 0)
            #expect(write(fs, handle, Array("hello".utf8), at: 0) == 5)
            var attributes = stat()
            #expect(fs.getattr("/new.txt", &attributes) == 0)
            #expect(attributes.st_size == 5 && attributes.st_uid == 1000 && attributes.st_mode & 0o777 == 0o644)
            // Still in the spool: changed and read back through the same handle.
            #expect(write(fs, handle, Array("x".utf8), at: 3) == 1)
            #expect(read(fs, handle, at: 1, count: 10) == Array("elxo".utf8))
            #expect(fs.flush(handle) == 0)
            #expect(fs.release(handle) == 0)
            let stored = BlockingBridge.run { try await collect(store.get("new.txt", range: nil)) }
            #expect((try? stored.get()) == Array("helxo".utf8))
        }
    }

    /// A stored file continued at its end: what it writes lands after the stored bytes, which a
    /// small file (under 8 MiB) has read into the spool, where they can still be patched (a
    /// length field rewritten after the data was appended). A larger one's are copied in the
    /// store and cannot (EINVAL).
    @Test func aContinuedSmallFileKeepsItsStoredBytesChangeable() async throws {
        try await withFilesystem { fs, store in
            put(store, "f", "hello\n")
            let (status, handle) = fs.open("/f", flags: O_RDWR)
            #expect(status == 0)
            #expect(write(fs, handle, Array("XYZ".utf8), at: 6) == 3)
            #expect(read(fs, handle, at: 6, count: 10) == Array("XYZ".utf8))
            #expect(read(fs, handle, at: 0, count: 100) == Array("hello\nXYZ".utf8))
            #expect(read(fs, handle, at: 4, count: 3) == Array("o\nX".utf8))
            #expect(write(fs, handle, Array("J".utf8), at: 0) == 1)
            #expect(write(fs, handle, Array("W".utf8), at: 7) == 1)
            #expect(fs.release(handle) == 0)
            #expect(stored(store, "f") == "Jello\nXWZ")
        }
    }

    /// A descriptor whose staged copy was stored goes on from the object as it is now: another
    /// descriptor's change made meanwhile is never overwritten by the stale copy.
    @Test func aStaleStagedCopyIsTakenAgain() async throws {
        try await withFilesystem { fs, store in
            put(store, "f", "0123456789")
            let (_, first) = fs.open("/f", flags: O_RDWR)
            #expect(write(fs, first, Array("x".utf8), at: 0) == 1)
            #expect(fs.fsync(first) == 0)
            let (_, second) = fs.open("/f", flags: O_RDWR)
            #expect(write(fs, second, Array("y".utf8), at: 1) == 1)
            // The first waits for the second's pending change, then gives up.
            #expect(write(fs, first, Array("z".utf8), at: 2) == -EBUSY)
            #expect(fs.release(second) == 0)
            #expect(write(fs, first, Array("z".utf8), at: 2) == 1)
            #expect(fs.release(first) == 0)
            #expect(stored(store, "f") == "xyz3456789")
        }
    }

    @Test func onlyTheOpenersCloseCommits() async throws {
        try await withFilesystem { fs, store in
            let (_, handle) = fs.create("/shared", process: 100)
            #expect(write(fs, handle, Array("first ".utf8), at: 0) == 6)
            // A child that inherited the descriptor closes its copy; the kernel flushes on its own.
            #expect(fs.flush(handle, process: 200) == 0)
            #expect(fs.flush(handle, process: nil) == 0)
            #expect((try? BlockingBridge.run { try await store.head("shared") }.get()) == nil)
            #expect(write(fs, handle, Array("second".utf8), at: 6) == 6)
            #expect(fs.flush(handle, process: 100) == 0)
            let stored = BlockingBridge.run { try await store.head("shared") }
            #expect((try? stored.get())?.size == 12)
            #expect(fs.release(handle) == 0)
        }
    }

    /// The kernel holds a file's inode lock through a write: a write waiting on another
    /// descriptor's idle changes kept that one from writing too, for the whole 3 s.
    @Test func aWriteGivesUpSoonOnAnIdleWritersChanges() async throws {
        try await withFilesystem { fs, store in
            put(store, "f", "0123456789")
            let (_, first) = fs.open("/f", flags: O_WRONLY, process: 1)
            let (_, second) = fs.open("/f", flags: O_WRONLY, process: 2)
            #expect(write(fs, first, Array("A".utf8), at: 5) == 1)
            let started = ContinuousClock.now
            #expect(write(fs, second, Array("B".utf8), at: 6) == -EBUSY)
            let waited = ContinuousClock.now - started
            #expect(waited >= .milliseconds(200) && waited < .seconds(2))
            #expect(fs.release(first) == 0)
            #expect(write(fs, second, Array("B".utf8), at: 6) == 1)
            #expect(fs.release(second) == 0)
            #expect(stored(store, "f") == "01234AB789")
        }
    }

    @Test func aFileBeingWrittenAnswersConsistently() async throws {
        try await withFilesystem { fs, store in
            let (_, first) = fs.create("/g", process: 1)
            #expect(write(fs, first, Array("abc".utf8), at: 0) == 3)
            var attributes = stat()
            #expect(fs.getattr("/g", &attributes) == 0 && attributes.st_size == 3)
            // Shown, not stored: read from the writer's spool; changing it in place or
            // renaming it is EBUSY; a truncating open uploads anew.
            let (opened, reader) = fs.open("/g", flags: O_RDONLY, process: 2)
            #expect(opened == 0 && fs.bypassesCache(reader))
            #expect(read(fs, reader, at: 1, count: 10) == Array("bc".utf8))
            #expect(fs.release(reader) == 0)
            #expect(fs.open("/g", flags: O_RDWR, process: 2).status == -EBUSY)
            #expect(fs.rename("/g", "/h", flags: 0) == -EBUSY)
            let (status, second) = fs.open("/g", flags: O_WRONLY | O_TRUNC, process: 2)
            #expect(status == 0)
            // unlink takes the name at once; what the writers still send is dropped.
            #expect(fs.unlink("/g") == 0)
            #expect(fs.getattr("/g", &attributes) == -ENOENT)
            #expect(write(fs, first, Array("def".utf8), at: 3) == 3)
            #expect(fs.release(first) == 0 && fs.release(second) == 0)
            #expect((try? BlockingBridge.run { try await store.head("g") }.get()) == nil)
            // A stored file unlinked while it is being replaced is gone too.
            let (_, old) = fs.create("/kept", process: 1)
            _ = write(fs, old, Array("old".utf8), at: 0)
            #expect(fs.release(old) == 0)
            let (_, replacing) = fs.open("/kept", flags: O_WRONLY | O_TRUNC, process: 1)
            _ = write(fs, replacing, Array("new".utf8), at: 0)
            #expect(fs.unlink("/kept") == 0)
            #expect(fs.release(replacing) == 0)
            #expect((try? BlockingBridge.run { try await store.head("kept") }.get()) == nil)
        }
    }

    @Test func theWriterWithPendingChangesIsTheOneThatCounts() async throws {
        try await withFilesystem { fs, _ in
            let (_, first) = fs.create("/s")
            _ = write(fs, first, Array("stored".utf8), at: 0)
            #expect(fs.release(first) == 0)
            // An idle writable handle beside a truncating writer. Opened after the writer, it
            // would change in place what is still being written: EBUSY.
            for idleFirst in [true, false] {
                var handles: [UInt64] = []
                if idleFirst { handles.append(fs.open("/s", flags: O_RDWR).handle) }
                let writer = fs.open("/s", flags: O_WRONLY | O_TRUNC).handle
                handles.append(writer)
                if !idleFirst { #expect(fs.open("/s", flags: O_WRONLY | O_APPEND).status == -EBUSY) }
                _ = write(fs, writer, [UInt8](repeating: 7, count: 1000), at: 0)
                var attributes = stat()
                #expect(fs.getattr("/s", &attributes) == 0 && attributes.st_size == 1000)
                #expect(fs.rename("/s", "/t", flags: 0) == -EBUSY)
                for handle in handles { #expect(fs.release(handle) == 0) }
            }
        }
    }

    @Test func ftruncateWithNothingPendingCutsServerSide() async throws {
        try await withFilesystem { fs, store in
            // maxRewriteSize is 64 here: staging 100 bytes would be EFBIG.
            let (_, writer) = fs.create("/big")
            _ = write(fs, writer, [UInt8](repeating: 9, count: 100), at: 0)
            #expect(fs.release(writer) == 0)
            let (_, handle) = fs.open("/big", flags: O_WRONLY)
            #expect(fs.truncate("/big", to: 10, handle: handle) == 0)
            #expect(fs.release(handle) == 0)
            #expect((try? BlockingBridge.run { try await store.head("big") }.get())?.size == 10)
            // Names the FTP side would read otherwise, and bytes that are not UTF-8.
            #expect(fs.create("/a\\b").status == -EINVAL)
            // A name the local store keeps for itself: refused at create, not at close.
            #expect(fs.create("/.ossftp-mine").status == -EINVAL)
        }
    }

    @Test func aRefusedUnlinkKeepsTheWritersData() async throws {
        try await withFilesystem(permissions: .noDelete) { fs, store in
            let (_, handle) = fs.create("/keep")
            _ = write(fs, handle, Array("abc".utf8), at: 0)
            #expect(fs.unlink("/keep") == -EACCES)
            #expect(write(fs, handle, Array("def".utf8), at: 3) == 3)
            #expect(fs.release(handle) == 0)
            #expect((try? BlockingBridge.run { try await store.head("keep") }.get())?.size == 6)
        }
    }

    /// Names are held to 255 bytes where they are made (lookups are left to the store, which
    /// may hold longer ones). A directory with a file being written in it is not an empty
    /// directory a rename may replace.
    @Test func longNamesAndDirectoriesWithFilesBeingWritten() async throws {
        try await withFilesystem { fs, _ in
            let long = String(repeating: "n", count: 256)
            #expect(fs.create("/" + long).status == -ENAMETOOLONG)
            #expect(fs.mkdir("/" + long) == -ENAMETOOLONG)
            #expect(fs.mkdir("/b") == 0 && fs.mkdir("/a") == 0)
            let (_, handle) = fs.create("/b/new")
            _ = write(fs, handle, Array("x".utf8), at: 0)
            #expect(fs.rename("/a", "/b", flags: 0) == -ENOTEMPTY)
            #expect(fs.rmdir("/b") == -ENOTEMPTY)
            #expect(fs.release(handle) == 0)
        }
    }

    /// An account that may not delete may not destroy by renaming onto a name either.
    @Test func aRenameOntoANameNeedsTheRightToDelete() async throws {
        try await withFilesystem(permissions: .noDelete) { fs, _ in
            for name in ["/x", "/y"] {
                let (_, handle) = fs.create(name)
                #expect(fs.release(handle) == 0)
            }
            #expect(fs.rename("/x", "/y", flags: 0) == -EACCES)
        }
    }

    @Test func inPlaceCopiesCountAgainstTheSpoolBudget() async throws {
        let budget = SpoolBudget(limit: 100)
        try await withFilesystem(budget: budget) { fs, _ in
            let (_, writer) = fs.create("/b")
            _ = write(fs, writer, [UInt8](repeating: 1, count: 60), at: 0)
            #expect(fs.release(writer) == 0)
            let (_, other) = fs.create("/c")
            _ = write(fs, other, [UInt8](repeating: 1, count: 50), at: 0)
            #expect(fs.release(other) == 0)
            let (_, handle) = fs.open("/b", flags: O_RDWR)
            #expect(write(fs, handle, [2], at: 0) == 1)
            #expect((try? BlockingBridge.run { await budget.used }.get()) == 60)
            // Past the whole budget: ENOSPC, and what was staged stays as it was.
            #expect(write(fs, handle, [3], at: 150) == -ENOSPC)
            // No room now for a second copy: ENOSPC at once, never a wait (which held the
            // file's lock while the room could only come from another file's close).
            let (_, second) = fs.open("/c", flags: O_RDWR)
            #expect(write(fs, second, [2], at: 0) == -ENOSPC)
            #expect(fs.release(second) == 0)
            #expect(fs.release(handle) == 0)
        }
        var used: Int64 = -1
        for _ in 0..<50 where used != 0 {
            used = await budget.used
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(used == 0)
    }

    @Test func aStreamedFileGrowsWithZerosPastItsEnd() async throws {
        try await withFilesystem { fs, store in
            // truncate -s 5 on a new file, then close: five zeros.
            let (_, sized) = fs.create("/sized")
            #expect(fs.truncate("/sized", to: 5, handle: sized) == 0)
            var attributes = stat()
            #expect(fs.getattr("/sized", &attributes) == 0 && attributes.st_size == 5)
            #expect(fs.release(sized) == 0)
            let (_, reader) = fs.open("/sized", flags: O_RDONLY)
            #expect(read(fs, reader, at: 0, count: 10) == [0, 0, 0, 0, 0])
            #expect(fs.release(reader) == 0)
            // ftruncate to the final size first, then written from the start; and a sparse write.
            let (_, handle) = fs.create("/sparse")
            #expect(fs.truncate("/sparse", to: 8, handle: handle) == 0)
            #expect(write(fs, handle, Array("ab".utf8), at: 0) == 2)
            #expect(write(fs, handle, Array("z".utf8), at: 4) == 1)
            #expect(fs.release(handle) == 0)
            let (_, check) = fs.open("/sparse", flags: O_RDONLY)
            #expect(read(fs, check, at: 0, count: 16) == [97, 98, 0, 0, 122, 0, 0, 0])
            #expect(fs.release(check) == 0)
            // Cut back while the bytes are in the spool (sqlite's journal_mode=TRUNCATE), then on.
            let (_, cut) = fs.create("/cut")
            #expect(write(fs, cut, Array("abcdef".utf8), at: 0) == 6)
            #expect(fs.truncate("/cut", to: 2, handle: cut) == 0)
            #expect(write(fs, cut, Array("Z".utf8), at: 2) == 1)
            #expect(read(fs, cut, at: 0, count: 16) == Array("abZ".utf8))
            #expect(fs.release(cut) == 0)
            #expect(stored(store, "cut") == "abZ")
        }
    }

    /// A file being written shows in its directory's listing (as stat shows it), once, after
    /// the stored entries; one being replaced shows once, in the stored entry's place, with
    /// its size so far, as stat shows it.
    @Test func filesBeingWrittenAreListed() async throws {
        try await withFilesystem { fs, store in
            put(store, "d/stored", "abc")
            put(store, "d/replaced", "old")
            let (_, writer) = fs.create("/d/new")
            #expect(write(fs, writer, Array("12345".utf8), at: 0) == 5)
            let (_, replacer) = fs.open("/d/replaced", flags: O_WRONLY | O_TRUNC)
            #expect(write(fs, replacer, Array("n".utf8), at: 0) == 1)
            func listing() -> [String: Int] {
                let (_, handle) = fs.opendir("/d")
                var seen: [String: Int] = [:]
                _ = fs.readdir(handle, from: 0) { name, status, _ in
                    #expect(seen[name] == nil)
                    seen[name] = Int(status.st_size)
                    return true
                }
                _ = fs.releasedir(handle)
                return seen
            }
            #expect(listing() == [".": 0, "..": 0, "stored": 3, "replaced": 1, "new": 5])
            #expect(fs.release(writer) == 0 && fs.release(replacer) == 0)
            #expect(listing() == [".": 0, "..": 0, "stored": 3, "replaced": 1, "new": 5])
        }
    }

    @Test func directoriesAreReadABufferAtATimeFromTheirOffsets() async throws {
        try await withFilesystem { fs, store in
            let names = (0..<600).map { String(format: "f%03d", $0) }
            for name in names {
                _ = BlockingBridge.run { try await store.put("d/\(name)", body: .bytes([]), metadata: [:]) }
            }
            let (status, handle) = fs.opendir("/d")
            #expect(status == 0)
            // Each call takes 100 entries, as a kernel buffer would, and resumes from the offset.
            var seen: [(String, Int64)] = []
            var offset: Int64 = 0
            while true {
                var taken = 0
                var dotInodes: [UInt] = []
                let result = fs.readdir(handle, from: offset) { name, status, next in
                    guard taken < 100 else { return false }
                    if name == "." || name == ".." { dotInodes.append(UInt(status.st_ino)) }
                    taken += 1
                    seen.append((name, next))
                    return true
                }
                #expect(result == 0 && !dotInodes.contains(0))
                guard taken > 0 else { break }
                offset = seen.last!.1
            }
            #expect(seen.map(\.0) == [".", ".."] + names)
            #expect(seen.map(\.1) == Array(1...602))
            // seekdir back: the listing starts over and skips to the offset.
            var again: [String] = []
            _ = fs.readdir(handle, from: 300) { name, _, _ in
                again.append(name)
                return again.count < 3
            }
            #expect(again == ["f298", "f299", "f300"])
            #expect(fs.releasedir(handle) == 0)
            #expect(fs.readdir(handle, from: 0) { _, _, _ in true } == -EBADF)
            let (_, missing) = fs.opendir("/nothing")
            #expect(fs.readdir(missing, from: 0) { _, _, _ in true } == -ENOENT)
        }
    }

    @Test func readsOutOfOrderComeFromTheKeptWindow() async throws {
        try await withFilesystem { fs, _ in
            let body = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
            let (_, writer) = fs.create("/data")
            #expect(write(fs, writer, body, at: 0) == Int32(body.count))
            #expect(fs.release(writer) == 0)
            let (status, handle) = fs.open("/data", flags: O_RDONLY)
            #expect(status == 0)
            // As the kernel's read-ahead sends them: a little ahead, then behind, then a jump back.
            for offset in [131_072, 0, 262_144, 65_536, 10] {
                let count = 65_536
                let end = min(body.count, offset + count)
                #expect(read(fs, handle, at: UInt64(offset), count: count) == Array(body[offset..<end]))
            }
            #expect(read(fs, handle, at: 300_000, count: 10) == [])
            #expect(fs.release(handle) == 0)
        }
    }

    @Test func inPlaceChangesAreStagedWithinTheLimit() async throws {
        try await withFilesystem { fs, _ in
            let (_, writer) = fs.create("/f")
            _ = write(fs, writer, Array("0123456789".utf8), at: 0)
            _ = fs.release(writer)
            let (_, handle) = fs.open("/f", flags: O_RDWR)
            #expect(write(fs, handle, Array("ab".utf8), at: 2) == 2)
            #expect(read(fs, handle, at: 0, count: 10) == Array("01ab456789".utf8))
            #expect(fs.truncate("/f", to: 4, handle: handle) == 0)
            #expect(fs.release(handle) == 0)
            let (_, reader) = fs.open("/f", flags: O_RDONLY)
            #expect(read(fs, reader, at: 0, count: 10) == Array("01ab".utf8))
            _ = fs.release(reader)
            let (_, big) = fs.create("/big")
            _ = write(fs, big, [UInt8](repeating: 1, count: 100), at: 0)
            _ = fs.release(big)
            let (_, rewrite) = fs.open("/big", flags: O_RDWR)
            #expect(write(fs, rewrite, [2], at: 5) == -EFBIG)
            _ = fs.release(rewrite)
        }
    }

    @Test func modesAndOwnersAreShownNotKept() async throws {
        try await withFilesystem { fs, _ in
            #expect(fs.mkdir("/d") == 0)
            #expect(fs.chmod("/d", mode: 0o755) == 0)
            #expect(fs.chmod("/d", mode: 0o700) == -EPERM)
            #expect(fs.chown("/d", uid: 1000, gid: UInt32.max) == 0)
            #expect(fs.chown("/d", uid: 0, gid: 0) == -EPERM)
            #expect(fs.rename("/d", "/e", flags: 0) == -EXDEV)
            #expect(fs.rmdir("/d") == 0)
            #expect(fs.rmdir("/d") == -ENOENT)
        }
    }
}
