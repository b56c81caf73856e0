import Foundation
import Testing
import TestSupport
@testable import OSSVFS

@Suite struct LocalStoreTests {
    func withStore(_ body: (LocalStore, String) async throws -> Void) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let bucket = try folder.make("bucket")
        try await body(try LocalStore(root: folder.path, bucket: "bucket", chunkSize: 7), bucket)
    }

    @Test func missingBucketIsRefused() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        #expect(throws: ObjectStoreError.noSuchBucket("nope")) { try LocalStore(root: folder.path, bucket: "nope") }
    }

    /// Pages the kernel holds are handed over at once (no trip to the blocking-I/O threads),
    /// chunk by chunk from the range's start; what would wait falls back to ``nextChunk()``;
    /// together they give every byte once, and a cancelled source gives nothing more.
    @Test func cachedBytesAreReadyWithoutWaiting() async throws {
        try await withStore { store, _ in
            let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            try await store.put("warm.bin", body: .bytes(data), metadata: [:])
            let stream = try await store.get("warm.bin", range: .from(5))
            let source = try #require(stream.source as? any ImmediateChunkSource)
            #expect(source.expectedLength == 99_995)
            var read: [UInt8] = []
            var immediate = 0
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
            defer { buffer.deallocate() }
            while true {
                if let count = try source.nextChunkIfReady(into: buffer) {
                    if count == 0 { break }
                    immediate += 1
                    read += buffer[..<count]
                } else {
                    guard let chunk = try await source.nextChunk() else { break }
                    read += chunk
                }
            }
            #expect(read == Array(data[5...]))
            // Just written, so in the page cache: each chunk (7 bytes here) came at once.
            #expect(immediate == (99_995 + 6) / 7)
            let cancelled = try await store.get("warm.bin", range: nil)
            cancelled.cancel()
            #expect(try (cancelled.source as? any ImmediateChunkSource)?.nextChunkIfReady(into: buffer) == 0)
        }
    }

    /// A file's cached bytes are offered as ranges to send from the page cache, in order and
    /// each once, then an empty range at the end; bytes past a shortened file's end are not.
    @Test func cachedRangesCoverTheFileInOrder() async throws {
        try await withStore { store, bucket in
            let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try await store.put("warm.bin", body: .bytes(data), metadata: [:])
            let source = try #require(try await store.get("warm.bin", range: .from(5)).source as? any FileRegionSource)
            let descriptor = try source.duplicateDescriptor()
            defer { close(descriptor) }
            var ranges: [Range<UInt64>] = []
            var sent: [UInt8] = []
            while let range = source.nextCachedRange(maxLength: 30_000), !range.isEmpty {
                ranges.append(range)
                var bytes = [UInt8](repeating: 0, count: range.count)
                #expect(pread(descriptor, &bytes, bytes.count, off_t(range.lowerBound)) == bytes.count)
                sent += bytes
            }
            #expect(ranges == [5..<30_005, 30_005..<60_005, 60_005..<90_005, 90_005..<100_000])
            #expect(sent == Array(data[5...]))
            #expect(source.nextCachedRange(maxLength: 30_000) == 100_000..<100_000)

            let shortened = try await store.get("warm.bin", range: nil).source as? any FileRegionSource
            #expect(shortened?.nextCachedRange(maxLength: 30_000) == 0..<30_000)
            #expect(truncate(bucket + "/warm.bin", 50_000) == 0)
            #expect(shortened?.nextCachedRange(maxLength: 30_000) == nil)
        }
    }

    @Test func putHeadGetAndRanges() async throws {
        try await withStore { store, bucket in
            let data = Array("hello, object storage".utf8)
            try await store.put("dir/a.txt", body: .bytes(data), metadata: [:])
            #expect(FileManager.default.fileExists(atPath: bucket + "/dir/a.txt"))
            #expect(try await store.head("dir/a.txt").size == UInt64(data.count))
            #expect(try await collect(store.get("dir/a.txt", range: nil)) == data)
            #expect(try await collect(store.get("dir/a.txt", range: .closed(7, 12))) == Array(data[7...12]))
            #expect(try await collect(store.get("dir/a.txt", range: .suffix(7))) == Array(data.suffix(7)))
            #expect(try await collect(store.get("dir/a.txt", range: .from(20))) == Array(data[20...]))
            await #expect(throws: ObjectStoreError.noSuchKey("dir/missing")) { try await store.head("dir/missing") }
            await #expect(throws: ObjectStoreError.self) { try await store.get("dir/a.txt", range: .from(100)) }
        }
    }

    /// A write that may only create fails when the key exists (renameat2 RENAME_NOREPLACE: no
    /// window between a check and the rename), by put and by completion alike.
    @Test func writesThatMayOnlyCreateLeaveAnExistingObject() async throws {
        try await withStore { store, bucket in
            try await store.put("d/f", body: .bytes(Array("first".utf8)), metadata: [:], condition: .absent)
            await #expect(throws: ObjectStoreError.conflict("an object has that name")) {
                try await store.put("d/f", body: .bytes(Array("second".utf8)), metadata: [:], condition: .absent)
            }
            let id = try await store.createMultipartUpload("d/f", metadata: [:])
            let part = try await store.uploadPart("d/f", uploadID: id, partNumber: 1, body: .bytes(Array("third".utf8)))
            await #expect(throws: ObjectStoreError.conflict("an object has that name")) {
                try await store.completeMultipartUpload("d/f", uploadID: id, parts: [part], condition: .absent)
            }
            #expect(try await collect(store.get("d/f", range: nil)) == Array("first".utf8))
            // No temporary file is left behind by the refusals.
            let leftovers = try FileManager.default.subpathsOfDirectory(atPath: bucket).filter { !$0.hasPrefix(".ossftp") }
            #expect(leftovers.sorted() == ["d", "d/f"])
        }
    }

    /// A write on a version (`.matching`) takes place only over that version, by put and by
    /// completion alike, and leaves no temporary file when refused.
    @Test func writesOnAVersionLeaveAnotherOne() async throws {
        try await withStore { store, bucket in
            let first = try await store.put("v", body: .bytes(Array("first".utf8)), metadata: ["mtime": "1700000000"])
            let second = try await store.put("v", body: .bytes(Array("second!".utf8)), metadata: [:], condition: .matching(first))
            await #expect(throws: ObjectStoreError.changed("v")) {
                try await store.put("v", body: .bytes(Array("third".utf8)), metadata: [:], condition: .matching(first))
            }
            let id = try await store.createMultipartUpload("v", metadata: [:])
            let part = try await store.uploadPart("v", uploadID: id, partNumber: 1, body: .bytes(Array("fourth".utf8)))
            await #expect(throws: ObjectStoreError.changed("v")) {
                try await store.completeMultipartUpload("v", uploadID: id, parts: [part], condition: .matching(first))
            }
            #expect(try await collect(store.get("v", range: nil)) == Array("second!".utf8))
            try await store.completeMultipartUpload("v", uploadID: id, parts: [part], condition: .matching(second))
            #expect(try await collect(store.get("v", range: nil)) == Array("fourth".utf8))
            let leftovers = try FileManager.default.subpathsOfDirectory(atPath: bucket).filter { !$0.hasPrefix(".ossftp") }
            #expect(leftovers.sorted() == ["v"])
        }
    }

    @Test func aReadPinnedToAnETagFailsOnceTheFileIsReplaced() async throws {
        try await withStore { store, _ in
            try await store.put("p.bin", body: .bytes(Array(repeating: 1, count: 100)), metadata: [:])
            let first = try await store.head("p.bin").etag
            #expect(try await collect(store.get("p.bin", range: .closed(0, 9), ifMatch: first)).count == 10)
            try await Task.sleep(for: .milliseconds(5))
            try await store.put("p.bin", body: .bytes(Array(repeating: 2, count: 100)), metadata: [:])
            await #expect(throws: ObjectStoreError.changed("p.bin")) {
                try await store.get("p.bin", range: .closed(10, 19), ifMatch: first)
            }
        }
    }

    @Test func filesDatedBefore1970OrFarAheadHaveAnETag() async throws {
        try await withStore { store, bucket in
            try await store.put("old.txt", body: .bytes([1]), metadata: [:])
            for seconds in [-315_619_200, 253_402_300_799, 20_000_000_000] {  // 1960, 9999, 2603
                var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
                #expect(utimensat(AT_FDCWD, bucket + "/old.txt", &times, 0) == 0)
                // The file system may clamp far dates (ext4 stops in 2446); none may trap here.
                let modified = try await store.head("old.txt").lastModified
                #expect(seconds > 0 || modified == Double(seconds))
                #expect(try await collect(store.get("old.txt", range: nil)) == [1])
            }
        }
    }

    /// Links, FIFOs and names that are not UTF-8, put in the bucket folder by other programs,
    /// are neither listed nor reached: a link could lead out of the bucket (or an account's
    /// home), a FIFO would hang a read, and one odd name must not hide its whole folder.
    @Test func linksFIFOsAndNonUTF8NamesAreLeftAlone() async throws {
        let outside = try TemporaryFolder()
        defer { outside.remove() }
        try Data("secret".utf8).write(to: URL(fileURLWithPath: outside.path + "/s.txt"))
        try await withStore { store, bucket in
            try await store.put("home/ok.txt", body: .bytes(Array("ok".utf8)), metadata: [:])
            try await store.put("other/s.txt", body: .bytes(Array("other's".utf8)), metadata: [:])
            #expect(symlink(outside.path, bucket + "/home/out") == 0)
            #expect(symlink("../other", bucket + "/home/sibling") == 0)
            #expect(symlink(outside.path + "/s.txt", bucket + "/home/file-link") == 0)
            #expect(mkfifo(bucket + "/home/fifo", 0o644) == 0)
            #expect(FileManager.default.createFile(atPath: bucket + "/home/bad.txt", contents: Data("x".utf8)))
            let raw = Array((bucket + "/home/bad").utf8) + [0xFF] + Array(".txt".utf8) + [0]
            let fd = raw.withUnsafeBytes { open($0.baseAddress!.assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
            #expect(fd >= 0)
            close(fd)

            let page = try await store.listPage(ListRequest(prefix: "home/", delimiter: "/"))
            #expect(page.objects.map(\.key) == ["home/bad.txt", "home/ok.txt"])
            #expect(page.commonPrefixes.isEmpty)
            for key in ["home/out/s.txt", "home/sibling/s.txt", "home/file-link", "home/fifo", "home/out/"] {
                await #expect(throws: ObjectStoreError.noSuchKey(key)) { _ = try await store.head(key) }
                await #expect(throws: ObjectStoreError.noSuchKey(key)) { _ = try await store.get(key, range: nil) }
            }
            await #expect(throws: ObjectStoreError.noSuchKey("home/sibling/s.txt")) { try await store.delete("home/sibling/s.txt") }
            await #expect(throws: ObjectStoreError.noSuchKey("home/sibling/s.txt")) {
                try await store.rename(from: "home/sibling/s.txt", to: "home/taken.txt")
            }
            #expect(try await store.head("other/s.txt").size == 7)
            // A `/` followed by a combining mark is still a separator: no way through the link.
            try await store.put("other/\u{301}x", body: .bytes([1]), metadata: [:])
            await #expect(throws: ObjectStoreError.noSuchKey("home/sibling/\u{301}x")) {
                _ = try await store.head("home/sibling/\u{301}x")
            }
            // Nothing is listed through a link, and a link to `.` (a loop) breaks no listing.
            #expect(symlink(".", bucket + "/home/loop") == 0)
            #expect(try await store.listPage(ListRequest(prefix: "home/sibling/", delimiter: "/")).objects.isEmpty)
            let root = try await store.listPage(ListRequest(prefix: "", delimiter: "/"))
            #expect(root.commonPrefixes == ["home/", "other/"])
            #expect(FileManager.default.fileExists(atPath: outside.path + "/s.txt"))
        }
    }

    @Test func invalidKeysAreRefused() async throws {
        try await withStore { store, _ in
            for key in ["a//b", "./x", "../x", ".ossftp-tmp/x", "", String(repeating: "k", count: 1024)] {
                await #expect(throws: ObjectStoreError.self) { try await store.put(key, body: .bytes([]), metadata: [:]) }
            }
        }
    }

    /// Replacing an object swaps the names (no writeback forced by ext4): a reader of the old
    /// file keeps its bytes, the new ones are in place, the old file is gone; a folder in the
    /// way still refuses the put and leaves nothing behind.
    @Test func replacingAnObjectSwapsItInAndLeavesNothingBehind() async throws {
        try await withStore { store, bucket in
            try await store.put("r.bin", body: .bytes(Array(repeating: 1, count: 100)), metadata: [:])
            let oldFile = try PosixFile.openForReading(bucket + "/r.bin")
            defer { try? oldFile.close() }
            try await store.put("r.bin", body: .bytes(Array(repeating: 2, count: 50)), metadata: [:])
            try await store.copy(from: "r.bin", to: "s.bin")
            try await store.put("s.bin", body: .bytes([3]), metadata: [:])
            #expect(try oldFile.read(at: 0, count: 200) == Array(repeating: 1, count: 100))
            #expect(try await collect(store.get("r.bin", range: nil)) == Array(repeating: 2, count: 50))
            #expect(try await collect(store.get("s.bin", range: nil)) == [3])
            try FileManager.default.createDirectory(atPath: bucket + "/d.bin", withIntermediateDirectories: false)
            await #expect(throws: ObjectStoreError.conflict("a directory with that name exists")) {
                try await store.put("d.bin", body: .bytes([4]), metadata: [:])
            }
            let temp = bucket + "/" + LocalKeyLayout.tempFolder
            #expect(try FileManager.default.contentsOfDirectory(atPath: temp).isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: bucket).sorted() == ["d.bin", "r.bin", "s.bin", LocalKeyLayout.tempFolder].sorted())
        }
    }

    @Test func aKeyAndAPrefixOfTheSameNameConflict() async throws {
        try await withStore { store, _ in
            try await store.put("a", body: .bytes([1]), metadata: [:])
            await #expect(throws: ObjectStoreError.self) { try await store.put("a/b", body: .bytes([2]), metadata: [:]) }
            try await store.put("c/d", body: .bytes([1]), metadata: [:])
            await #expect(throws: ObjectStoreError.self) { try await store.put("c", body: .bytes([2]), metadata: [:]) }
        }
    }

    @Test func listingWithDelimiterMergesPrefixesAndKeysInByteOrder() async throws {
        try await withStore { store, _ in
            for key in ["d/a", "d/b-c", "d/b/x", "d/b/y", "d/e/", "top", "d/\u{e9}"] {
                try await store.put(key, body: .bytes(key.hasSuffix("/") ? [] : [0]), metadata: [:])
            }
            let page = try await store.listPage(ListRequest(prefix: "d/", delimiter: "/"))
            #expect(page.objects.map(\.key) == ["d/a", "d/b-c", "d/\u{e9}"])
            #expect(page.commonPrefixes == ["d/b/", "d/e/"])
            let marker = try await store.listPage(ListRequest(prefix: "d/e/", delimiter: "/"))
            #expect(marker.objects.map(\.key) == ["d/e/"])
            let all = try await store.listPage(ListRequest(prefix: "", delimiter: nil))
            #expect(all.objects.map(\.key) == ["d/a", "d/b-c", "d/b/x", "d/b/y", "d/e/", "d/\u{e9}", "top"])
        }
    }

    /// A folder renamed between two pages of its listing: the next page found nothing and ended
    /// the listing, which a client was then told was complete (226 with a part of the names).
    @Test func aFolderGoneBetweenPagesFailsTheListing() async throws {
        try await withStore { store, bucket in
            for index in 0..<5 { try await store.put("p/k\(index)", body: .bytes([]), metadata: [:]) }
            let first = try await store.listPage(ListRequest(prefix: "p/", delimiter: "/", maxKeys: 2))
            let token = try #require(first.nextContinuationToken)
            #expect(rename("\(bucket)/p", "\(bucket)/q") == 0)
            await #expect(throws: ObjectStoreError.self) {
                try await store.listPage(ListRequest(prefix: "p/", delimiter: "/", continuationToken: token, maxKeys: 2))
            }
            // A listing that starts after it finds the folder gone, as any would.
            #expect(try await store.listPage(ListRequest(prefix: "p/", delimiter: "/")).objects.isEmpty)
        }
    }

    @Test func listingPagesWithContinuationTokens() async throws {
        try await withStore { store, _ in
            let keys = (0..<25).map { String(format: "p/k%02d", $0) }
            for key in keys { try await store.put(key, body: .bytes([]), metadata: [:]) }
            try await store.put("p/sub/x", body: .bytes([]), metadata: [:])
            var seen: [String] = []
            var token: String?
            var pages = 0
            repeat {
                let page = try await store.listPage(
                    ListRequest(prefix: "p/", delimiter: "/", continuationToken: token, maxKeys: 10))
                seen += page.objects.map(\.key) + page.commonPrefixes
                token = page.nextContinuationToken
                pages += 1
            } while token != nil
            #expect(pages == 3)
            #expect(seen == keys + ["p/sub/"])
        }
    }

    /// Pages of one folder come from one reading of it (a folder of n names was read and sorted
    /// once per page), in key order across pages, and a name added meanwhile still shows.
    @Test func pagesOfOneFolderComeFromOneReadingInKeyOrder() async throws {
        try await withStore { store, bucket in
            for key in ["d/", "d/a-b", "d/a/x", "d/a0", "d/b"] {
                try await store.put(key, body: .bytes(key.hasSuffix("/") ? [] : [1]), metadata: [:])
            }
            // Readings kept however recent the folder's change (the store waits 2.5 s for it).
            let snapshots = LocalFolderSnapshots(settleTime: 0)
            func page(after token: String?) async throws -> ListPage {
                try store.layout.listPage(ListRequest(prefix: "d/", delimiter: "/", continuationToken: token, maxKeys: 1),
                                          snapshots: snapshots)
            }
            var keys: [String] = []
            var token: String?
            repeat {
                let next = try await page(after: token)
                keys += next.objects.map(\.key) + next.commonPrefixes
                token = next.nextContinuationToken
                if keys == ["d/", "d/a-b"] {
                    try await store.put("d/c", body: .bytes([2]), metadata: [:])
                }
            } while token != nil
            #expect(keys == ["d/", "d/a-b", "d/a/", "d/a0", "d/b", "d/c"])
            // Six pages, two readings: the first, and one after `d/c` changed the folder.
            #expect(snapshots.readings.value == 2)
            // A tool that sets the folder's mtime back (rsync -a, tar) does not hide a change:
            // the ctime tells.
            let folder = bucket + "/d"
            let before = try FileManager.default.attributesOfItem(atPath: folder)[.modificationDate] as! Date
            try await store.put("d/e", body: .bytes([3]), metadata: [:])
            try FileManager.default.setAttributes([.modificationDate: before], ofItemAtPath: folder)
            var all: [String] = []
            token = nil
            repeat {
                let next = try await page(after: token)
                all += next.objects.map(\.key) + next.commonPrefixes
                token = next.nextContinuationToken
            } while token != nil
            #expect(all.last == "d/e")
            // A name prefix within the folder, and a token past the folder.
            let named = try await store.listPage(ListRequest(prefix: "d/a", delimiter: "/"))
            #expect(named.objects.map(\.key) == ["d/a-b", "d/a0"] && named.commonPrefixes == ["d/a/"])
            #expect(try await page(after: "e").objects.isEmpty)
        }
    }

    @Test func deleteRemovesEmptyParentsButKeepsMarkers() async throws {
        try await withStore { store, bucket in
            try await store.put("a/b/c", body: .bytes([1]), metadata: [:])
            try await store.delete("a/b/c")
            #expect(!FileManager.default.fileExists(atPath: bucket + "/a"))
            try await store.put("m/", body: .bytes([]), metadata: [:])
            try await store.put("m/x", body: .bytes([1]), metadata: [:])
            try await store.delete("m/x")
            #expect(try await store.head("m/").size == 0)
            try await store.delete("m/")
            #expect(!FileManager.default.fileExists(atPath: bucket + "/m"))
            try await store.delete("never-existed")
        }
    }

    /// A folder made on the server by another program and holding nothing is shown as a folder
    /// (the marker it would have, as if MKD had made it); a write into it gives it that marker,
    /// so it stays once the write's object goes; a folder holding a file stays a prefix.
    @Test func bareFoldersAreShownAndKeptOnceWrittenInto() async throws {
        try await withStore { store, bucket in
            for folder in ["in", "deep/er", "gone", "tree", "piped"] {
                try FileManager.default.createDirectory(atPath: "\(bucket)/\(folder)", withIntermediateDirectories: true)
            }
            #expect(FileManager.default.createFile(atPath: bucket + "/tree/t.txt", contents: Data("t".utf8)))
            #expect(mkfifo(bucket + "/piped/fifo", 0o644) == 0)
            let root = try await store.listPage(ListRequest(prefix: "", delimiter: "/"))
            #expect(root.commonPrefixes == ["deep/", "gone/", "in/", "piped/", "tree/"])
            let bare = try await store.listPage(ListRequest(prefix: "in/", delimiter: "/"))
            #expect(bare.objects.map(\.key) == ["in/"] && bare.objects.first?.size == 0 && bare.commonPrefixes.isEmpty)
            #expect(try await store.listPage(ListRequest(prefix: "piped/", delimiter: "/")).objects.map(\.key) == ["piped/"])
            #expect(try await store.head("in/").size == 0)
            await #expect(throws: ObjectStoreError.noSuchKey("tree/")) { _ = try await store.head("tree/") }
            #expect(try await store.listPage(ListRequest(prefix: "deep/", delimiter: nil)).objects.map(\.key) == ["deep/er/"])
            let deep = try await store.listPage(ListRequest(prefix: "deep/", delimiter: "/"))
            #expect(deep.objects.isEmpty && deep.commonPrefixes == ["deep/er/"])

            try await store.put("in/a.txt", body: .bytes([1]), metadata: [:])
            #expect(FileManager.default.fileExists(atPath: bucket + "/in/" + LocalKeyLayout.markerName))
            try await store.delete("in/a.txt")
            #expect(try await store.head("in/").size == 0)
            // The nearest folder that exists is the one taken: `deep/er` here, not the new `x`.
            try await store.put("deep/er/x/y.txt", body: .bytes([1]), metadata: [:])
            try await store.delete("deep/er/x/y.txt")
            #expect(!FileManager.default.fileExists(atPath: bucket + "/deep/er/x"))
            #expect(FileManager.default.fileExists(atPath: bucket + "/deep/er/" + LocalKeyLayout.markerName))
            #expect(!FileManager.default.fileExists(atPath: bucket + "/deep/" + LocalKeyLayout.markerName))
            // A prefix stays one: it goes with its last object.
            try await store.put("tree/u.txt", body: .bytes([1]), metadata: [:])
            #expect(!FileManager.default.fileExists(atPath: bucket + "/tree/" + LocalKeyLayout.markerName))
            // Removing the marker a bare folder is shown with removes the folder, and only it.
            try FileManager.default.createDirectory(atPath: bucket + "/gone/inner", withIntermediateDirectories: true)
            try await store.delete("gone/inner/")
            #expect(!FileManager.default.fileExists(atPath: bucket + "/gone/inner"))
            #expect(try await store.head("gone/").size == 0)
            try await store.delete("gone/")
            #expect(!FileManager.default.fileExists(atPath: bucket + "/gone"))
            // One that holds only what no listing shows stays, and says so.
            await #expect(throws: ObjectStoreError.io(operation: "rmdir \(bucket)/piped", errno: ENOTEMPTY)) {
                try await store.delete("piped/")
            }
            #expect(FileManager.default.fileExists(atPath: bucket + "/piped/fifo"))
        }
    }

    @Test func multipartUploadJoinsPartsAtomically() async throws {
        try await withStore { store, _ in
            let id = try await store.createMultipartUpload("big/file", metadata: [:])
            let one = try await store.uploadPart("big/file", uploadID: id, partNumber: 1, body: .bytes([1, 2, 3]))
            let two = try await store.uploadPart("big/file", uploadID: id, partNumber: 2, body: .bytes([4, 5]))
            await #expect(throws: ObjectStoreError.noSuchKey("big/file")) { try await store.head("big/file") }
            try await store.completeMultipartUpload("big/file", uploadID: id, parts: [one, two])
            #expect(try await collect(store.get("big/file", range: nil)) == [1, 2, 3, 4, 5])
            await #expect(throws: ObjectStoreError.self) {
                try await store.completeMultipartUpload("big/file", uploadID: id, parts: [one, two])
            }
            let aborted = try await store.createMultipartUpload("gone", metadata: [:])
            _ = try await store.uploadPart("gone", uploadID: aborted, partNumber: 1, body: .bytes([9]))
            try await store.abortMultipartUpload("gone", uploadID: aborted)
            await #expect(throws: ObjectStoreError.noSuchUpload(aborted)) {
                try await store.uploadPart("gone", uploadID: aborted, partNumber: 2, body: .bytes([9]))
            }
        }
    }

    /// What a process that died while completing `k` left: the note, and part 1 moved out to
    /// `.ossftp-tmp/<tempName>` with `appended` on it. Returns the parts, the upload's folder
    /// and the temporary path.
    func cutCompletion(_ store: LocalStore, _ bucket: String, tempName: String, appended: [UInt8]) async throws
        -> (parts: [UploadedPart], folder: String, temp: String, id: String)
    {
        let id = try await store.createMultipartUpload("k", metadata: [:])
        let one = try await store.uploadPart("k", uploadID: id, partNumber: 1, body: .bytes([1, 2, 3]))
        let two = try await store.uploadPart("k", uploadID: id, partNumber: 2, body: .bytes([4, 5]))
        let folder = "\(bucket)/\(LocalKeyLayout.uploadsFolder)/\(id)"
        let first = "\(folder)/part-1"
        let status = try #require(try PosixFile.status(first))
        let inode = try #require(PosixFile.inode(first))
        try FileManager.default.createDirectory(atPath: "\(bucket)/\(LocalKeyLayout.tempFolder)",
                                                withIntermediateDirectories: true)
        let temp = "\(bucket)/\(LocalKeyLayout.tempFolder)/\(tempName)"
        try "\(inode) \(status.size) \(status.modified) 1 \(tempName)".write(
            toFile: "\(folder)/\(LocalKeyLayout.completionNote)", atomically: false, encoding: .utf8)
        try FileManager.default.moveItem(atPath: first, toPath: temp)
        let handle = try #require(FileHandle(forWritingAtPath: temp))
        handle.seekToEndOfFile()
        handle.write(Data(appended))
        handle.closeFile()
        return ([one, two], folder, temp, id)
    }

    /// A process that died while completing (its first part moved out to be the object's
    /// file, some of the next part appended) left an upload no completion could finish: an
    /// acknowledged write-back upload was lost so. The next completion takes the part back.
    @Test func aCompletionCutShortIsResumed() async throws {
        try await withStore { store, bucket in
            let (parts, folder, temp, id) = try await cutCompletion(store, bucket, tempName: "cut", appended: [4])
            // Listed again whole, then completed.
            #expect(try await store.listParts("k", uploadID: id).map(\.etag) == parts.map(\.etag))
            try await store.completeMultipartUpload("k", uploadID: id, parts: parts)
            #expect(try await collect(store.get("k", range: nil)) == [1, 2, 3, 4, 5])
            #expect(!FileManager.default.fileExists(atPath: temp) && !FileManager.default.fileExists(atPath: folder))
        }
    }

    /// Died after the object was placed by an exchange, the replaced object left at the
    /// temporary name: the next completion finds it done, and clears both.
    @Test func aCompletionThatPlacedTheObjectIsDone() async throws {
        try await withStore { store, bucket in
            try await store.put("k", body: .bytes([9, 9]), metadata: [:])
            let (parts, folder, temp, id) = try await cutCompletion(store, bucket, tempName: "swapped", appended: [4, 5])
            // The exchange: the joined part is the object, the old object at the temporary name.
            try FileManager.default.moveItem(atPath: temp, toPath: "\(bucket)/swap")
            try FileManager.default.moveItem(atPath: "\(bucket)/k", toPath: temp)
            try FileManager.default.moveItem(atPath: "\(bucket)/swap", toPath: "\(bucket)/k")
            try await store.completeMultipartUpload("k", uploadID: id, parts: parts)
            #expect(try await collect(store.get("k", range: nil)) == [1, 2, 3, 4, 5])
            #expect(!FileManager.default.fileExists(atPath: temp) && !FileManager.default.fileExists(atPath: folder))
        }
    }

    /// Died between the link that placed the object (a file system without RENAME_NOREPLACE)
    /// and the unlink of the temporary name: the object is whole, and stays so.
    @Test func aCompletionPlacedByALinkIsDoneAndNotCut() async throws {
        try await withStore { store, bucket in
            let (parts, folder, temp, id) = try await cutCompletion(store, bucket, tempName: "linked", appended: [4, 5])
            try FileManager.default.linkItem(atPath: temp, toPath: "\(bucket)/k")
            try await store.completeMultipartUpload("k", uploadID: id, parts: parts, condition: .absent)
            #expect(try await collect(store.get("k", range: nil)) == [1, 2, 3, 4, 5])
            #expect(!FileManager.default.fileExists(atPath: temp) && !FileManager.default.fileExists(atPath: folder))
        }
    }

    /// Staging files a killed process left are removed once nothing has written them for an
    /// hour; fresh ones, and the first part of a completion cut short, stay.
    @Test func abandonedStagingFilesAreSwept() async throws {
        try await withStore { store, bucket in
            let id = try await store.createMultipartUpload("k", metadata: [:])
            _ = try await store.uploadPart("k", uploadID: id, partNumber: 1, body: .bytes([1]))
            let temp = "\(bucket)/\(LocalKeyLayout.tempFolder)"
            try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true)
            for name in ["old", "fresh", "joining"] {
                FileManager.default.createFile(atPath: "\(temp)/\(name)", contents: Data([7]))
            }
            try "1 1 1 1 joining".write(
                toFile: "\(bucket)/\(LocalKeyLayout.uploadsFolder)/\(id)/\(LocalKeyLayout.completionNote)",
                atomically: false, encoding: .utf8)
            let layout = LocalKeyLayout(bucketPath: bucket, maxKeyLength: 1023, syncsWrites: false)
            // Two hours from now (a file's ctime cannot be set back): "fresh" was written then.
            let later = Date().timeIntervalSince1970 + 7200
            try DirectoryOps.setModificationTime("\(temp)/fresh", later)
            LocalLeftovers.sweep(layout, now: later)
            #expect(try FileManager.default.contentsOfDirectory(atPath: temp).sorted() == ["fresh", "joining"])
        }
    }

    @Test func completingLeavesAStillLinkedFirstPartAlone() async throws {
        // A part taken from a spool file by hard link shares its bytes with that file until the
        // spool lets go: the object must then be a copy, and the spool file stay as it was.
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        _ = try folder.make("bucket")
        let store = try LocalStore(root: folder.path, bucket: "bucket")
        for keepSpoolFile in [true, false] {
            let spoolFile = folder.path + "/spool-part-\(keepSpoolFile)"
            _ = FileManager.default.createFile(atPath: spoolFile, contents: Data([1, 2, 3]))
            let id = try await store.createMultipartUpload("joined", metadata: [:])
            let one = try await store.uploadPart(
                "joined", uploadID: id, partNumber: 1, body: .file(path: spoolFile, offset: 0, length: 3, disposable: true))
            let two = try await store.uploadPart("joined", uploadID: id, partNumber: 2, body: .bytes([4, 5]))
            if !keepSpoolFile { try FileManager.default.removeItem(atPath: spoolFile) }
            try await store.completeMultipartUpload("joined", uploadID: id, parts: [one, two])
            #expect(try await collect(store.get("joined", range: nil)) == [1, 2, 3, 4, 5])
            if keepSpoolFile { #expect(FileManager.default.contents(atPath: spoolFile) == Data([1, 2, 3])) }
            let mode = try FileManager.default.attributesOfItem(atPath: folder.path + "/bucket/joined")[.posixPermissions]
            #expect(mode as? Int == 0o644)
        }
    }

    @Test func copyAndDeleteMany() async throws {
        try await withStore { store, _ in
            try await store.put("src", body: .bytes([7, 8, 9]), metadata: [:])
            try await store.copy(from: "src", to: "dst/copy")
            #expect(try await collect(store.get("dst/copy", range: nil)) == [7, 8, 9])
            let failures = try await store.deleteMany(["src", "dst/copy", "../bad"])
            #expect(failures.keys.sorted() == ["../bad"])
            await #expect(throws: ObjectStoreError.noSuchKey("src")) { try await store.head("src") }
        }
    }

    /// A rename that must not replace is refused where a file is, in the same step.
    @Test func renameOnlyWhereNothingIs() async throws {
        try await withStore { store, _ in
            try await store.put("src", body: .bytes([1]), metadata: [:])
            try await store.put("taken", body: .bytes([2]), metadata: [:])
            await #expect(throws: ObjectStoreError.conflict("an object has that name")) {
                try await store.rename(from: "src", to: "taken", replacing: false)
            }
            #expect(try await collect(store.get("taken", range: nil)) == [2])
            try await store.rename(from: "src", to: "free", replacing: false)
            #expect(try await collect(store.get("free", range: nil)) == [1])
        }
    }

    /// A copy on `.absent` is refused where a file is (one renameat2 that does not replace).
    @Test func copyOnlyWhereNothingIs() async throws {
        try await withStore { store, _ in
            try await store.put("src", body: .bytes([1]), metadata: [:])
            try await store.put("taken", body: .bytes([2]), metadata: [:])
            await #expect(throws: ObjectStoreError.conflict("an object has that name")) {
                try await store.copy(from: "src", to: "taken", condition: .absent)
            }
            #expect(try await collect(store.get("taken", range: nil)) == [2])
            try await store.copy(from: "src", to: "free", condition: .absent)
            #expect(try await collect(store.get("free", range: nil)) == [1])
        }
    }

    /// An upload that replaces a large object drops that object's cached pages as it opens,
    /// before any byte comes (the page cache would otherwise hold both, and dropping them at the
    /// first part held the client's bytes up); the old bytes stay readable until the commit.
    /// A small object's pages, and those of an object an upload continues, stay.
    @Test func anUploadOverALargeObjectDropsItsCachedPages() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let bucket = try folder.make("bucket")
        let store = try LocalStore(root: folder.path, bucket: "bucket")
        let spool = SpoolConfiguration(directory: folder.path + "/spool")
        let large = Int(LocalKeyLayout.largeObjectSize)
        let old = [UInt8](repeating: 0x61, count: large)
        for key in ["large", "small", "continued"] {
            try await store.put(key, body: .bytes(key == "small" ? Array(old[..<(1 << 20)]) : old), metadata: [:])
        }
        // The last MiB of each: what an upload continuing the first MiB does not read again.
        func lastMiB(_ key: String) throws -> (PosixFile, UInt64) {
            let file = try PosixFile.openForReading(bucket + "/" + key)
            return (file, try file.size() - (1 << 20))
        }
        func warm(_ key: String) throws {
            let (file, offset) = try lastMiB(key)
            defer { try? file.close() }
            _ = try file.read(at: offset, count: 1 << 20)
        }
        func cached(_ key: String) throws -> Bool {
            let (file, offset) = try lastMiB(key)
            defer { try? file.close() }
            return file.isCached(at: offset, count: 1 << 20)
        }
        for key in ["large", "small", "continued"] {
            try warm(key)
            #expect(try cached(key))
        }
        let vfs = ObjectVFS(store: store, spool: spool)
        func upload(_ key: String, keepingFirst kept: UInt64? = nil) async throws -> any VFSWriter {
            try await vfs.openWrite(try VFSPath(resolving: "/" + key), modified: nil, keepingFirst: kept)
        }
        let replacing = try await upload("large")
        #expect(try !cached("large"))
        try await replacing.write([UInt8](repeating: 0x62, count: spool.writeBufferSize))
        let file = try PosixFile.openForReading(bucket + "/large")
        #expect(try file.read(at: 0, count: 4) == [0x61, 0x61, 0x61, 0x61])
        try file.close()
        try await replacing.commit()
        #expect(try await store.head("large").size == UInt64(spool.writeBufferSize))
        let small = try await upload("small")
        #expect(try cached("small"))
        await small.abort()
        let continuing = try await upload("continued", keepingFirst: 1 << 20)
        #expect(try cached("continued"))
        await continuing.abort()
    }
}
