import OSSVFS
import Testing
@testable import FuseFrontend

/// What listings told the mount is let go once it no longer answers getattr.
struct FuseAttributeCacheTests {
    @Test func listedEntriesPastTheirTTLGoWithTheNextListing() {
        let cache = FuseAttributeCache()
        let entries = (0..<1000).map { index in
            (VFSPath(components: ["big", "f\(index)"]), VFSEntry(name: "f\(index)", kind: .file, size: 1, modified: 0))
        }
        cache.remember(entries, listedAt: cache.generation, time: 100)
        #expect(cache.listedCount == 1000)
        #expect(cache.listed(entries[0].0, now: 101) != nil)
        let later = [(VFSPath(components: ["small"]), VFSEntry(name: "small", kind: .file, size: 2, modified: 0))]
        cache.remember(later, listedAt: cache.generation, time: 100 + 2 * FuseAttributeCache.listedTTL)
        #expect(cache.listedCount == 1)
        #expect(cache.listed(later[0].0, now: 100 + 2 * FuseAttributeCache.listedTTL) != nil)
        // With no listing after it (a quiet mount), a sweep lets it go.
        cache.sweep(now: 100 + 3 * FuseAttributeCache.listedTTL)
        #expect(cache.listedCount == 0)
    }
}
