#if canImport(Glibc)
import Glibc
#endif

/// The fields of a `readdir(3)` entry, read in place. glibc's entries are only as long as
/// their name (`d_reclen`): a copy of the whole `struct dirent` (its 256-byte `d_name`), which
/// `entry.pointee.d_name` makes, reads past the last entry of the buffer, and crashed the
/// mount where that ran into an unmapped page (a process with thousands of descriptors).
public enum DirectoryEntry {
    /// The entry's name, as the bytes before its NUL.
    public static func nameBytes(_ entry: UnsafePointer<dirent>) -> UnsafeBufferPointer<UInt8> {
        let start = UnsafeRawPointer(entry).advanced(by: MemoryLayout<dirent>.offset(of: \dirent.d_name)!)
        return UnsafeBufferPointer(start: start.assumingMemoryBound(to: UInt8.self),
                                   count: strlen(start.assumingMemoryBound(to: CChar.self)))
    }

    /// The entry's type (`DT_DIR`, `DT_REG`, `DT_UNKNOWN`...).
    public static func type(_ entry: UnsafePointer<dirent>) -> Int32 {
        Int32(UnsafeRawPointer(entry).load(fromByteOffset: MemoryLayout<dirent>.offset(of: \dirent.d_type)!, as: UInt8.self))
    }
}
