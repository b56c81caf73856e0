import Glibc
import Testing
@testable import OSSVFS

@Suite struct DirectoryEntryTests {
    /// An entry as glibc lays out the last one of its buffer: only as long as its name, right
    /// before an unmapped page. Reading its name copied the whole 256-byte `d_name` and crashed
    /// (the mount died with SIGSEGV in a process holding thousands of descriptors).
    @Test func theLastEntryBeforeAnUnmappedPageIsReadInPlace() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let memory = mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            memory != MAP_FAILED
        else { throw SystemError() }
        defer { munmap(memory, 2 * page) }
        #expect(mprotect(memory.advanced(by: page), page, PROT_NONE) == 0)
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        let name: [UInt8] = Array("abcd".utf8) + [0]
        // 8-aligned, as glibc's entries are, and ending at the guard page.
        let start = memory.advanced(by: page - (nameOffset + name.count + 7) / 8 * 8)
        let length = nameOffset + name.count
        #expect(start.distance(to: memory.advanced(by: page)) >= length)
        memset(start, 0, start.distance(to: memory.advanced(by: page)))
        start.storeBytes(of: UInt8(DT_REG), toByteOffset: MemoryLayout<dirent>.offset(of: \dirent.d_type)!, as: UInt8.self)
        name.withUnsafeBytes { start.advanced(by: nameOffset).copyMemory(from: $0.baseAddress!, byteCount: name.count) }
        let entry = UnsafePointer<dirent>(start.assumingMemoryBound(to: dirent.self))
        #expect(Array(DirectoryEntry.nameBytes(entry)) == Array("abcd".utf8))
        #expect(DirectoryEntry.type(entry) == Int32(DT_REG))
    }

    struct SystemError: Error {}
}
