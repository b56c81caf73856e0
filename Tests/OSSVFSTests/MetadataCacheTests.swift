import Foundation
import Testing
@testable import OSSVFS

/// The metadata cache lets go of what no longer answers.
struct MetadataCacheTests {
    @Test func expiredEntriesGoAsNewOnesComeNotOnlyAtTheCap() async throws {
        let cache = MetadataCache(ttl: 0.4)
        for index in 0..<500 {
            await cache.setObject("walk/\(index)", ObjectInfo(key: "walk/\(index)", size: 1, lastModified: 0, etag: "e"))
            await cache.setDirectory("walk/\(index)/", exists: false)
        }
        #expect(await cache.entryCount == 1000)
        try await Task.sleep(for: .milliseconds(1100))
        await cache.setObject("later", nil)
        #expect(await cache.entryCount == 1)
        #expect(await cache.object("later") != nil)
    }

    /// A process gone quiet lets go of every cache's expired entries before giving memory back.
    @Test func aQuietProcessSweepsEveryRegistry() async throws {
        let registry = MetadataCacheRegistry(ttl: 0.2)
        let cache = registry.cache(for: StoreIdentity(bucket: "b", principal: "p"))
        for index in 0..<100 { await cache.setDirectory("d\(index)/", exists: true) }
        #expect(await cache.entryCount == 100)
        try await Task.sleep(for: .milliseconds(300))
        await MetadataCacheRegistry.sweepAll()
        #expect(await cache.entryCount == 0)
    }
}
