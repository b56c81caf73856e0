import Foundation
import Testing
import TestSupport
@testable import OSSVFS

/// One VFS suite, written once, run against every real store: a local folder and SeaweedFS.
@Suite(.serialized) struct VFSConformanceTests {
    enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case local
        case seaweedfs

        var testDescription: String { rawValue }
    }

    struct Fixture {
        let kind: StoreKind
        let store: any ObjectStore
        let home: String
        let caches: MetadataCacheRegistry
        let folder: TemporaryFolder

        func vfs(rename: RenamePolicy = .refuse) -> ObjectVFS {
            ObjectVFS(store: store, homeDirectory: home,
                      spool: SpoolConfiguration(directory: folder.path + "/spool", partSize: 5 << 20),
                      renamePolicy: rename, caches: caches, pageSize: 3)
        }

        /// The key of a path below the account's home.
        func key(_ path: String) -> String { home + "/" + path }

        func remove() { folder.remove() }
    }

    func fixture(_ kind: StoreKind, cacheTTL: Double = 60) async throws -> Fixture {
        let folder = try TemporaryFolder()
        let home = "conformance-\(UUID().uuidString.prefix(8))"
        let store: any ObjectStore
        switch kind {
        case .local:
            _ = try folder.make("bucket")
            store = try LocalStore(root: folder.path, bucket: "bucket")
        case .seaweedfs:
            store = try await SeaweedFSStores.store()
        }
        return Fixture(kind: kind, store: store, home: home, caches: MetadataCacheRegistry(ttl: cacheTTL), folder: folder)
    }

    func path(_ text: String) throws -> VFSPath { try VFSPath(resolving: text) }

    func write(_ vfs: some VFS, _ name: String, _ bytes: [UInt8], modified: Double? = nil) async throws {
        let writer = try await vfs.openWrite(try path(name), modified: modified)
        try await writer.write(bytes)
        try await writer.commit()
    }

    func read(_ vfs: some VFS, _ name: String) async throws -> [UInt8] {
        try await collect(vfs.openRead(try path(name), offset: 0))
    }

    func names(_ vfs: some VFS, _ directory: String) async throws -> [String] {
        var result: [String] = []
        for try await entry in try await vfs.list(try path(directory)) {
            result.append(entry.kind == .directory ? entry.name + "/" : entry.name)
        }
        return result
    }

    @Test(arguments: StoreKind.allCases)
    func namesWithSpacesHashesPercentsQuotesAndChinese(kind: StoreKind) async throws {
        let f = try await fixture(kind)
        defer { f.remove() }
        let vfs = f.vfs()
        let names = ["a b.txt", "#hash", "100%", "50%2e", "quote\"d'", "中文名.txt", "tab\tname", "+plus+"]
        for (index, name) in names.enumerated() { try await write(vfs, "/" + name, Array(name.utf8) + [UInt8(index)]) }
        #expect(try await Set(self.names(vfs, "/")) == Set(names))
        for (index, name) in names.enumerated() {
            #expect(try await read(vfs, "/" + name) == Array(name.utf8) + [UInt8(index)])
            #expect(try await f.store.head(f.key(name)).size == UInt64(name.utf8.count + 1))
        }
        // No percent-decoding: "50%2e" is its own name, not "50.".
        await #expect(throws: VFSError.notFound("/50.")) { try await vfs.stat(try path("/50.")) }
    }

    @Test(arguments: StoreKind.allCases)
    func pathsNeverLeaveTheHome(kind: StoreKind) async throws {
        let f = try await fixture(kind)
        defer { f.remove() }
        let vfs = f.vfs()
        try await vfs.makeDirectory(try path("/../../up"))
        try await write(vfs, "..\\..\\x", [1])
        try await write(vfs, "/a/../y", [2])
        #expect(try await f.store.head(f.key("up/")).size == 0)
        #expect(try await f.store.head(f.key("x")).size == 1)
        #expect(try await f.store.head(f.key("y")).size == 1)
        #expect(try await Set(names(vfs, "/")) == ["up/", "x", "y"])
    }

    @Test(arguments: StoreKind.allCases)
    func keysNoPathCanNameAreNotShown(kind: StoreKind) async throws {
        let f = try await fixture(kind)
        defer { f.remove() }
        let vfs = f.vfs()
        try await write(vfs, "/ok", [1])
        // Object stores may hold keys with `.` or empty segments; folder-backed ones (the local
        // store, SeaweedFS's filer) refuse or normalise them. Whatever the store keeps, no
        // listing shows a name a path cannot reach.
        for raw in ["d/./x", "e//y", "f/../z"] {
            _ = try? await f.store.put(f.key(raw), body: .bytes([1]), metadata: [:])
        }
        for directory in ["/", "/d", "/e", "/f"] {
            guard let entries = try? await names(vfs, directory) else { continue }
            #expect(!entries.contains { [".", "..", "", "./", "../", "/"].contains($0) }, "\(directory): \(entries)")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func markerAndPrefixOnlyDirectories(kind: StoreKind) async throws {
        let f = try await fixture(kind)
        defer { f.remove() }
        let vfs = f.vfs()
        try await vfs.makeDirectory(try path("/made"))
        #expect(try await f.store.head(f.key("made/")).size == 0)
        try await f.store.put(f.key("implicit/deep/file.txt"), body: .bytes([7]), metadata: [:])
        #expect(try await vfs.stat(try path("/implicit")).kind == .directory)
        #expect(try await vfs.stat(try path("/implicit/deep")).kind == .directory)
        #expect(try await Set(names(vfs, "/")) == ["made/", "implicit/"])
        #expect(try await names(vfs, "/implicit") == ["deep/"])
        #expect(try await names(vfs, "/made") == [])
        await #expect(throws: VFSError.alreadyExists("/made")) { try await vfs.makeDirectory(try path("/made")) }
        await #expect(throws: VFSError.notFound("/nowhere")) { try await vfs.makeDirectory(try path("/nowhere/x")) }
    }

    @Test(arguments: StoreKind.allCases)
    func aFileAndADirectoryOfTheSameName(kind: StoreKind) async throws {
        let f = try await fixture(kind)
        defer { f.remove() }
        let vfs = f.vfs()
        try await f.store.put(f.key("a"), body: .bytes([1, 2]), metadata: [:])
        switch kind {
        case .seaweedfs:
            try await f.store.put(f.key("a/inner"), body: .bytes([3]), metadata: [:])
            try await f.store.put(f.key("a-b"), body: .bytes([4]), metadata: [:])
            // The directory shadows the file, in stat and in listings.
            #expect(try await vfs.stat(try path("/a")).kind == .directory)
            #expect(try await names(vfs, "/") == ["a-b", "a/"])
            #expect(try await names(vfs, "/a") == ["inner"])
        case .local:
            await #expect(throws: ObjectStoreError.self) {
                try await f.store.put(f.key("a/inner"), body: .bytes([3]), metadata: [:])
            }
            #expect(try await vfs.stat(try path("/a")).kind == .file)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func removingMissingOrNonEmptyThingsFails(kind: StoreKind) async throws {
        let f = try await fixture(kind)
        defer { f.remove() }
        let vfs = f.vfs()
        try await vfs.makeDirectory(try path("/full"))
        try await write(vfs, "/full/f", [1])
        await #expect(throws: VFSError.directoryNotEmpty("/full")) { try await vfs.removeDirectory(try path("/full")) }
        #expect(try await read(vfs, "/full/f") == [1])
        await #expect(throws: VFSError.notFound("/missing")) { try await vfs.removeFile(try path("/missing")) }
        await #expect(throws: VFSError.notFound("/missing")) { try await vfs.removeDirectory(try path("/missing")) }
        await #expect(throws: VFSError.isDirectory("/full")) { try await vfs.removeFile(try path("/full")) }
        try await vfs.removeFile(try path("/full/f"))
        try await vfs.removeDirectory(try path("/full"))
        await #expect(throws: VFSError.notFound("/full")) { try await vfs.stat(try path("/full")) }
    }

    @Test(arguments: StoreKind.allCases)
    func renameIsRefusedByDefault(kind: StoreKind) async throws {
        let f = try await fixture(kind)
        defer { f.remove() }
        let vfs = f.vfs()
        try await write(vfs, "/f", [1])
        await #expect {
            try await vfs.rename(try path("/f"), to: try path("/g"))
        } throws: { error in
            if case VFSError.unsupported = error { return true }
            return false
        }
        #expect(try await read(vfs, "/f") == [1])
        await #expect(throws: VFSError.notFound("/g")) { try await vfs.stat(try path("/g")) }
    }

    @Test(arguments: StoreKind.allCases)
    func renameByCopyMovesFilesAndTrees(kind: StoreKind) async throws {
        let f = try await fixture(kind)
        defer { f.remove() }
        let vfs = f.vfs(rename: .copy(maxDirectoryObjects: 10))
        try await write(vfs, "/f", [1, 2, 3], modified: 1_600_000_000)
        try await vfs.rename(try path("/f"), to: try path("/g"))
        #expect(try await read(vfs, "/g") == [1, 2, 3])
        #expect(try await vfs.stat(try path("/g")).modified == 1_600_000_000)
        await #expect(throws: VFSError.notFound("/f")) { try await vfs.stat(try path("/f")) }
        try await vfs.makeDirectory(try path("/tree"))
        try await vfs.makeDirectory(try path("/tree/sub"))
        try await write(vfs, "/tree/a", [4])
        try await write(vfs, "/tree/sub/b c", [5])
        try await vfs.rename(try path("/tree"), to: try path("/moved"))
        #expect(try await Set(names(vfs, "/moved")) == ["a", "sub/"])
        #expect(try await read(vfs, "/moved/sub/b c") == [5])
        await #expect(throws: VFSError.notFound("/tree")) { try await vfs.stat(try path("/tree")) }
        // Over the limit: refused before anything moves.
        try await vfs.makeDirectory(try path("/big"))
        for index in 0..<11 { try await write(vfs, "/big/\(index)", [UInt8(index)]) }
        await #expect { try await vfs.rename(try path("/big"), to: try path("/big2")) } throws: { error in
            if case VFSError.unsupported = error { return true }
            return false
        }
        #expect(try await names(vfs, "/big").count == 11)
        await #expect(throws: VFSError.notFound("/big2")) { try await vfs.stat(try path("/big2")) }
        await #expect(throws: VFSError.invalidName("a directory cannot move into itself")) {
            try await vfs.rename(try path("/moved"), to: try path("/moved/inside"))
        }
        // Onto directories, as rename(2): an empty one is replaced, one with entries stays, and a
        // file never replaces a directory.
        try await vfs.makeDirectory(try path("/empty"))
        try await vfs.rename(try path("/moved"), to: try path("/empty"))
        #expect(try await Set(names(vfs, "/empty")) == ["a", "sub/"])
        // SeaweedFS's filer drops an emptied folder a moment after its last key: wait for it.
        var gone = false
        for _ in 0..<150 where !gone {
            do { _ = try await vfs.stat(try path("/moved")); try await Task.sleep(for: .milliseconds(100)) } catch VFSError.notFound {
                gone = true
            }
        }
        #expect(gone)
        try await vfs.makeDirectory(try path("/other"))
        await #expect(throws: VFSError.directoryNotEmpty("/empty")) {
            try await vfs.rename(try path("/other"), to: try path("/empty"))
        }
        #expect(try await vfs.stat(try path("/other")).kind == .directory)
        await #expect(throws: VFSError.isDirectory("/other")) { try await vfs.rename(try path("/g"), to: try path("/other")) }
        #expect(try await read(vfs, "/g") == [1, 2, 3])
        // A rename that fails after the empty target went puts the target back.
        try await vfs.makeDirectory(try path("/target"))
        await #expect { try await vfs.rename(try path("/big"), to: try path("/target")) } throws: { error in
            if case VFSError.unsupported = error { return true }
            return false
        }
        #expect(try await vfs.stat(try path("/target")).kind == .directory)
        // Names are bytes: the NFD spelling of a name is another name, not the same one or inside it.
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        try await write(vfs, "/\(composed)", [6])
        try await vfs.rename(try path("/\(composed)"), to: try path("/\(decomposed)"))
        #expect(try await read(vfs, "/\(decomposed)") == [6])
        await #expect(throws: VFSError.notFound("/\(composed)")) { try await vfs.stat(try path("/\(composed)")) }
    }

    /// A file changed from outside while its entry sits in the cache: a read opened from the
    /// stale entry finds the new ETag at its first GET and reads the new object, not an error.
    /// Once bytes have been handed out, a replacement still fails the read.
    @Test(arguments: StoreKind.allCases)
    func aReadFromAStaleEntryReadsTheNewObject(kind: StoreKind) async throws {
        let f = try await fixture(kind, cacheTTL: 60)
        defer { f.remove() }
        let vfs = f.vfs()
        try await write(vfs, "/x", Array("one".utf8))
        #expect(try await vfs.stat(try path("/x")).size == 3)
        try await Task.sleep(for: .milliseconds(20))  // another mtime, so another local ETag
        try await f.store.put(f.key("x"), body: .bytes(Array("second".utf8)), metadata: [:])
        #expect(try await vfs.stat(try path("/x")).size == 3)  // still the cached entry
        let stream = try await vfs.openReader(try path("/x"), offset: 0)
        #expect(try await collect(ObjectByteStream(source: stream)) == Array("second".utf8))
        #expect(try await vfs.stat(try path("/x")).size == 6)  // and the cache learned it

        let started = try await vfs.openReader(try path("/x"), offset: 0)
        #expect(try await started.nextChunk() != nil)
        try await Task.sleep(for: .milliseconds(20))
        try await f.store.put(f.key("x"), body: .bytes(Array("third!!".utf8)), metadata: [:])
        started.seek(to: 1)
        await #expect(throws: ObjectStoreError.self) { _ = try await started.nextChunk() }
    }

    @Test(arguments: StoreKind.allCases)
    func writesAreSeenAtOnceByOtherSessionsOfTheProcess(kind: StoreKind) async throws {
        let f = try await fixture(kind, cacheTTL: 60)
        defer { f.remove() }
        let alice = f.vfs()
        let bob = f.vfs()
        await #expect(throws: VFSError.notFound("/shared")) { try await alice.stat(try path("/shared")) }
        try await write(bob, "/shared", [9])
        #expect(try await alice.stat(try path("/shared")).size == 1)
        try await bob.removeFile(try path("/shared"))
        await #expect(throws: VFSError.notFound("/shared")) { try await alice.stat(try path("/shared")) }
        // A write from outside the process is not seen until the entry expires: the cache is real.
        await #expect(throws: VFSError.notFound("/outside")) { try await alice.stat(try path("/outside")) }
        try await f.store.put(f.key("outside"), body: .bytes([1]), metadata: [:])
        await #expect(throws: VFSError.notFound("/outside")) { try await alice.stat(try path("/outside")) }
        let uncached = ObjectVFS(store: f.store, homeDirectory: f.home, spool: SpoolConfiguration(directory: f.folder.path),
                                 caches: MetadataCacheRegistry(ttl: 0))
        #expect(try await uncached.stat(try path("/outside")).size == 1)
    }

    @Test(arguments: StoreKind.allCases)
    func modificationTimesComeFromMetadata(kind: StoreKind) async throws {
        let f = try await fixture(kind)
        defer { f.remove() }
        let vfs = f.vfs()
        try await write(vfs, "/stamped", [1], modified: 1_500_000_000)
        #expect(try await vfs.stat(try path("/stamped")).modified == 1_500_000_000)
        try await vfs.setModificationTime(try path("/stamped"), 1_400_000_000)
        #expect(try await vfs.stat(try path("/stamped")).modified == 1_400_000_000)
        #expect(try await read(vfs, "/stamped") == [1])
        try await write(vfs, "/plain", [2])
        let now = Date().timeIntervalSince1970
        #expect(abs((try await vfs.stat(try path("/plain")).modified ?? 0) - now) < 600)
    }
}
