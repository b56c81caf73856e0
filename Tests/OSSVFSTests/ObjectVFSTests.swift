import Foundation
import Testing
import TestSupport
@testable import OSSVFS

@Suite struct ObjectVFSTests {
    func withVFS(home: String = "", partSize: Int = 16 << 20, pageSize: Int = 1000,
                 _ body: (ObjectVFS, LocalStore, String) async throws -> Void) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let bucket = try folder.make("bucket")
        let store = try LocalStore(root: folder.path, bucket: "bucket")
        let spool = SpoolConfiguration(directory: folder.path + "/spool", partSize: partSize, writeBufferSize: 4)
        try await body(ObjectVFS(store: store, homeDirectory: home, spool: spool, pageSize: pageSize), store, bucket)
    }

    func path(_ text: String) throws -> VFSPath { try VFSPath(resolving: text) }

    func write(_ vfs: ObjectVFS, _ name: String, _ bytes: [UInt8]) async throws {
        let writer = try await vfs.openWrite(try path(name))
        try await writer.write(bytes)
        try await writer.commit()
    }

    @Test func directoriesAreMarkersAndPrefixes() async throws {
        try await withVFS { vfs, store, _ in
            try await vfs.makeDirectory(try path("/d"))
            #expect(try await store.head("d/").size == 0)
            #expect(try await vfs.stat(try path("/d")).kind == .directory)
            await #expect(throws: VFSError.alreadyExists("/d")) { try await vfs.makeDirectory(try path("/d")) }
            await #expect(throws: VFSError.notFound("/x")) { try await vfs.makeDirectory(try path("/x/y")) }
            try await store.put("implicit/deep/file", body: .bytes([1]), metadata: [:])
            #expect(try await vfs.stat(try path("/implicit")).kind == .directory)
            var names: [String] = []
            for try await entry in try await vfs.list(.root) { names.append(entry.name) }
            #expect(names.sorted() == ["d", "implicit"])
            var inside: [String] = []
            for try await entry in try await vfs.list(try path("/d")) { inside.append(entry.name) }
            #expect(inside.isEmpty)
        }
    }

    @Test func aKeyOfTheLongestLengthIsFoundAndRead() async throws {
        try await withVFS { vfs, store, _ in
            // 1,023 bytes, the local store's limit: no `/` fits after it, so it cannot be a
            // directory; asking whether it is one used to fail the lookup with ENAMETOOLONG.
            let folders = (0..<5).map { String(repeating: Character(UnicodeScalar(UInt8(97 + $0))), count: 200) }
            let key = folders.joined(separator: "/") + "/" + String(repeating: "z", count: 18)
            #expect(key.utf8.count == 1023)
            try await store.put(key, body: .bytes([7, 8, 9]), metadata: [:])
            let entry = try await vfs.stat(try path("/" + key))
            #expect(entry.kind == .file && entry.size == 3)
            var read: [UInt8] = []
            for try await chunk in try await vfs.openRead(try path("/" + key), offset: 0) { read += chunk }
            #expect(read == [7, 8, 9])
            // Listed or removed as a folder, it is a file (LIST of it shows its line), and a
            // missing one at that length is missing: not a name too long for one that exists.
            await #expect(throws: VFSError.notDirectory("/" + key)) { try await vfs.list(try path("/" + key)) }
            await #expect(throws: VFSError.notDirectory("/" + key)) { try await vfs.removeDirectory(try path("/" + key)) }
            let missing = String(key.dropLast()) + "y"
            await #expect(throws: VFSError.notFound("/" + missing)) { try await vfs.list(try path("/" + missing)) }
        }
    }

    /// A file made where a folder was just removed is a file: the folder's cached existence
    /// went with its rmdir (the mount showed the file as a directory until remounted).
    @Test func aFileWhereAFolderWasRemovedIsAFile() async throws {
        try await withVFS { vfs, _, _ in
            try await vfs.makeDirectory(try path("/h"))
            #expect(try await vfs.stat(try path("/h")).kind == .directory)
            try await vfs.removeDirectory(try path("/h"))
            await #expect(throws: VFSError.notFound("/h")) { try await vfs.stat(try path("/h")) }
            try await write(vfs, "/h", [1, 2, 3])
            let entry = try await vfs.stat(try path("/h"))
            #expect(entry.kind == .file && entry.size == 3)
        }
        // And by a rename onto the name.
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        _ = try folder.make("bucket")
        let store = try LocalStore(root: folder.path, bucket: "bucket")
        let vfs = ObjectVFS(store: store, spool: SpoolConfiguration(directory: folder.path + "/spool"),
                            renamePolicy: .native)
        try await write(vfs, "/f", [4, 5])
        try await vfs.makeDirectory(try path("/g"))
        try await vfs.removeDirectory(try path("/g"))
        try await vfs.rename(try path("/f"), to: try path("/g"))
        #expect(try await vfs.stat(try path("/g")).kind == .file)
    }

    @Test func removeDirectoryRefusesNonEmptyAndMissing() async throws {
        try await withVFS { vfs, _, _ in
            try await vfs.makeDirectory(try path("/d"))
            try await write(vfs, "/d/f", [1, 2])
            await #expect(throws: VFSError.directoryNotEmpty("/d")) { try await vfs.removeDirectory(try path("/d")) }
            #expect(try await vfs.stat(try path("/d/f")).size == 2)
            await #expect(throws: VFSError.notFound("/nope")) { try await vfs.removeDirectory(try path("/nope")) }
            await #expect(throws: VFSError.notDirectory("/d/f")) { try await vfs.removeDirectory(try path("/d/f")) }
            try await vfs.removeFile(try path("/d/f"))
            try await vfs.removeDirectory(try path("/d"))
            await #expect(throws: VFSError.notFound("/d")) { try await vfs.stat(try path("/d")) }
        }
    }

    @Test func aMarkerWithDataIsNotRemovedWithItsDirectory() async throws {
        try await withVFS { vfs, store, bucket in
            // The local store keeps markers empty (and refuses bytes for one); another tool may not.
            await #expect(throws: ObjectStoreError.invalidKey("a folder here cannot hold bytes")) {
                try await store.put("kept/", body: .bytes([1]), metadata: [:])
            }
            try await store.put("kept/", body: .bytes([]), metadata: [:])
            try Data("ten bytes!".utf8).write(to: URL(fileURLWithPath: bucket + "/kept/.ossftp-dir"))
            await #expect(throws: VFSError.directoryNotEmpty("/kept")) { try await vfs.removeDirectory(try path("/kept")) }
            #expect(try await store.head("kept/").size == 10)
        }
    }

    @Test func removeFileOfMissingOrDirectoryFails() async throws {
        try await withVFS { vfs, _, _ in
            await #expect(throws: VFSError.notFound("/missing")) { try await vfs.removeFile(try path("/missing")) }
            try await vfs.makeDirectory(try path("/d"))
            await #expect(throws: VFSError.isDirectory("/d")) { try await vfs.removeFile(try path("/d")) }
        }
    }

    @Test func uploadsAreInvisibleUntilCommitted() async throws {
        try await withVFS { vfs, _, _ in
            let writer = try await vfs.openWrite(try path("/f"))
            try await writer.write(Array(repeating: 5, count: 100))
            await #expect(throws: VFSError.notFound("/f")) { try await vfs.stat(try path("/f")) }
            try await writer.commit()
            #expect(try await vfs.stat(try path("/f")).size == 100)
            let aborted = try await vfs.openWrite(try path("/g"))
            try await aborted.write([1, 2, 3])
            await aborted.abort()
            await #expect(throws: VFSError.notFound("/g")) { try await vfs.stat(try path("/g")) }
        }
    }

    @Test func largeUploadsGoUpAsMultipartAndLeaveNoSpool() async throws {
        try await withVFS(partSize: 10) { vfs, _, bucket in
            let data = (0..<95).map { UInt8($0) }
            try await write(vfs, "/big", data)
            #expect(try await collect(vfs.openRead(try path("/big"), offset: 0)) == data)
            #expect(try await collect(vfs.openRead(try path("/big"), offset: 90)) == Array(data[90...]))
            let spool = (try? FileManager.default.contentsOfDirectory(atPath: bucket + "/../spool")) ?? []
            #expect(spool.isEmpty)
        }
    }

    @Test func writesNeedAnExistingParentAndRefuseDirectories() async throws {
        try await withVFS { vfs, _, _ in
            await #expect(throws: VFSError.notFound("/no")) { try await vfs.openWrite(try path("/no/f")) }
            try await vfs.makeDirectory(try path("/d"))
            await #expect(throws: VFSError.isDirectory("/d")) { try await vfs.openWrite(try path("/d")) }
            await #expect(throws: VFSError.isDirectory("/")) { try await vfs.openWrite(.root) }
            await #expect(throws: VFSError.isDirectory("/d")) { try await vfs.openRead(try path("/d"), offset: 0) }
        }
    }

    @Test func homeDirectoryConfinesTheAccount() async throws {
        try await withVFS(home: "users/alice") { vfs, store, _ in
            try await store.put("users/alice/", body: .bytes([]), metadata: [:])
            try await store.put("secret", body: .bytes([1]), metadata: [:])
            try await write(vfs, "/../../secret", [2])
            #expect(try await store.head("users/alice/secret").size == 1)
            #expect(try await collect(store.get("secret", range: nil)) == [1])
        }
    }

    @Test func listingsStreamPageByPage() async throws {
        try await withVFS(pageSize: 3) { vfs, store, _ in
            for index in 0..<10 { try await store.put("many/f\(index)", body: .bytes([]), metadata: [:]) }
            var names: [String] = []
            for try await entry in try await vfs.list(try path("/many")) { names.append(entry.name) }
            #expect(names == (0..<10).map { "f\($0)" })
        }
    }

    @Test func listingAFileOrNothingFails() async throws {
        try await withVFS { vfs, _, _ in
            try await write(vfs, "/f", [1])
            await #expect(throws: VFSError.notDirectory("/f")) { try await vfs.list(try path("/f")) }
            await #expect(throws: VFSError.notFound("/none")) { try await vfs.list(try path("/none")) }
        }
    }

    @Test func unnameableKeysAreLeftOutOfListings() {
        // `\\` is a path separator (`a\\b` would reach `a/b`); CR and LF would forge listing lines.
        let page = ListPage(
            objects: ["h/", "h/.", "h/..", "h/a b", "h/back\\slash", "h/fake\r\n-rw-r--r-- x", "h/nl\nz.tmp", "h/ok"]
                .map { ObjectInfo(key: $0, size: 0, lastModified: 0, etag: "") },
            commonPrefixes: ["h//", "h/./", "h/../", "h/dir\\x/", "h/sub/"], nextContinuationToken: nil)
        let names = ObjectVFS.entries(of: page, under: "h/").map(\.sortKey)
        #expect(names == ["a b", "ok", "sub/"])
        // The name after the prefix is cut by bytes: a combining mark right after the `/` stays.
        let combining = ListPage(objects: [ObjectInfo(key: "h/\u{301}x", size: 0, lastModified: 0, etag: "")],
                                 commonPrefixes: [], nextContinuationToken: nil)
        #expect(ObjectVFS.entries(of: combining, under: "h/").map { Array($0.name.utf8) } == [Array("\u{301}x".utf8)])
    }

    /// Two keys that differ only in Unicode normalization are two files: the cache, paths and
    /// listings keep them apart (Swift's String would call them equal).
    @Test func namesDifferingOnlyInNormalizationAreTwoFiles() async throws {
        try await withVFS { vfs, store, _ in
            let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
            #expect(composed == decomposed)  // what String does
            #expect(try path("/" + composed) != path("/" + decomposed))
            #expect(Set([try path("/" + composed), try path("/" + decomposed)]).count == 2)
            try await store.put(composed, body: .bytes(Array("NFC".utf8)), metadata: [:])
            #expect(try await vfs.stat(try path("/" + composed)).size == 3)
            // Looked up after the other name was cached: not found, not the other's entry.
            await #expect(throws: VFSError.notFound("/" + decomposed)) { try await vfs.stat(try path("/" + decomposed)) }
            try await write(vfs, "/" + decomposed, Array("NFD!".utf8))
            #expect(try await vfs.stat(try path("/" + composed)).size == 3)
            #expect(try await vfs.stat(try path("/" + decomposed)).size == 4)
            try await vfs.removeFile(try path("/" + decomposed))
            #expect(try await store.head(composed).size == 3)
        }
    }

    /// A name ending in a prepended mark (`x\u{600}` then `/` is one character): its folder's
    /// marker went to the parent's.
    @Test func aFolderWhoseNameEndsInAPrependedMarkIsMade() async throws {
        try await withVFS { vfs, store, _ in
            try await vfs.makeDirectory(try path("/new\u{600}"))
            #expect(try await store.head("new\u{600}/").size == 0)
            #expect(try await vfs.stat(try path("/new\u{600}")).kind == .directory)
        }
    }

    @Test func onlyDecimalSecondsAreATime() {
        func shown(_ mtime: String) -> Double {
            ObjectVFS.modified(ObjectInfo(key: "k", size: 0, lastModified: 7, etag: "", metadata: ["mtime": mtime]))
        }
        #expect(shown("1700000000") == 1_700_000_000)
        #expect(shown("1700000000.5") == 1_700_000_000.5)
        #expect(shown("-86400") == -86_400)
        for garbage in ["0x10", "nan", "inf", "1e3", "+5", "1.", ".5", "--1", "", " 1"] {
            #expect(shown(garbage) == 7, "\(garbage)")
        }
    }

    @Test func fractionalTimesAreWrittenWithNineDigits() {
        // s3fs reads the digits after the point as nanoseconds, as rclone and s3fs write them.
        #expect(ObjectVFS.format(1_614_834_367) == "1614834367")
        #expect(ObjectVFS.format(1_614_834_367.5) == "1614834367.500000000")
        #expect(ObjectVFS.format(1_614_834_367.123) == "1614834367.123000000")
        #expect(ObjectVFS.format(0.000_001) == "0.000001000")
        #expect(ObjectVFS.format(-0.25) == "-0.250000000")
        #expect(ObjectVFS.format(-62_167_219_199.5) == "-62167219199.500000000")
        #expect(ObjectVFS.format(1_614_834_367.999_999_9) == "1614834368")
        for time in [1_614_834_367.123, -0.25, 253_402_300_799.999_9] {
            #expect(Double(ObjectVFS.format(time))! == (time * 1e6).rounded() / 1e6, "\(time)")
        }
    }

    @Test func checksumsOtherToolsKeepInMetadataAreNotPassedOn() {
        for name in ["md5chksum", "s3cmd-attrs", "sha256", "Content-MD5-Custom", "crc32c", "file-hash"] {
            #expect(ObjectVFS.describesContent(name), "\(name)")
        }
        for name in ["mode", "uid", "gid", "mtime", "owner", "ctime"] {
            #expect(!ObjectVFS.describesContent(name), "\(name)")
        }
    }

    @Test func aTimeOutsideTheYearsShownIsRefused() async throws {
        // 2^63 seconds made the metadata's formatting trap (utimensat takes any tv_sec).
        try await withVFS { vfs, store, _ in
            _ = try await store.put("f", body: .bytes([1]), metadata: [:], condition: .none)
            for time in [1e19, -1e19, 253_402_300_800] {
                await #expect(throws: VFSError.self) { try await vfs.setModificationTime(try path("/f"), time) }
            }
            try await vfs.setModificationTime(try path("/f"), 1_614_834_367.5)
            #expect(try await store.head("f").lastModified == 1_614_834_367.5)
        }
    }

    @Test func percentDecodingOfListingsReadsPlusAsSpace() {
        #expect(URIEncoding.decode("a+b%2Bc%20d%E4%B8%AD") == "a b+c d中")
        #expect(URIEncoding.decode("100%25") == "100%")
        // OSS percent-encodes what it encodes, and oss2 reads a bare `+` as a plus: a base64
        // continuation token's `+` read as a space moved the listing to another place.
        #expect(URIEncoding.decode("Zm9v+YmFy%2Bc%20d", plusIsSpace: false) == "Zm9v+YmFy+c d")
    }

    @Test func keysOverTheLimitAreRefused() async throws {
        try await withVFS { vfs, _, _ in
            let long = "/" + String(repeating: "n", count: 1100)
            await #expect(throws: VFSError.self) { try await vfs.makeDirectory(try path(long)) }
        }
    }
}
