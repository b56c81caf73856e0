import Foundation
import OSSVFS

/// Formats listing lines: `ls -l` for LIST, bare names for NLST. Times are UTC.
public enum FTPListingFormatter {
    // `ls` shows the year instead of the time for dates more than six months from now: half
    // of the mean Gregorian year, as GNU ls counts it (182.5 days left a window of three hours
    // where the two disagreed).
    static let halfYear: Double = 365.2425 * 86_400 / 2

    /// Shown for entries that keep no time (directories are key prefixes): one time for the
    /// whole run, so that listings do not change from one LIST to the next.
    static let timeOfUndated = Date().timeIntervalSince1970

    /// `-rw-r--r-- 1 owner group 1234 Mar 05 14:22 name`, or the year form for old files.
    public static func longLine(_ entry: VFSEntry, now: Double) -> String {
        let isDirectory = entry.kind == .directory
        let mode = isDirectory ? "drwxr-xr-x" : "-rw-r--r--"
        let time = entry.modified ?? timeOfUndated
        let size = String(entry.size)
        let padded = String(repeating: " ", count: max(0, 13 - size.count)) + size
        return "\(mode) 1 owner group \(padded) \(dateField(time, now: now)) \(listed(entry.name))"
    }

    /// A name as LIST and NLST show it: each control character (C0, DEL, C1, and the
    /// bidirectional overrides) as `?`, as vsftpd does for the first three. Keys may hold them (written over S3 or the mount), and these listings end up on
    /// terminals: an ESC or a backspace in a name would send escape sequences to whoever lists
    /// the folder, or hide part of a name. (CR, LF and NUL never reach here: the VFS does not
    /// list keys with them, which would forge listing lines.) MLSD keeps names exact, for the
    /// programs that act on them (RFC 3659 §7.2: the name runs to the CRLF).
    public static func listed(_ name: String) -> String {
        guard name.unicodeScalars.contains(where: isControl) else { return name }
        var scalars = String.UnicodeScalarView()
        for scalar in name.unicodeScalars { scalars.append(isControl(scalar) ? "?" : scalar) }
        return String(scalars)
    }

    /// C0, DEL and C1 (U+009B is CSI, which terminals take as ESC [), and the bidirectional
    /// overrides and isolates, which show `x\u{202E}txt.exe` as `xexe.txt`.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// The MLST/MLSD facts ossftp knows, in the order it writes them.
    public static let factOrder = ["type", "size", "modify", "perm", "unique"]
    public static let allFacts = Set(factOrder)

    /// `type=file;size=12;modify=20260305142209;perm=adfrw;unique=…;` (RFC 3659 §7): no
    /// spaces or semicolons inside values, since clients split on them. `path` is the entry's
    /// full path (for `unique`); `permissions` what the session may do (for `perm`).
    public static func facts(_ entry: VFSEntry, path: VFSPath, permissions: AccountPermissions = .full,
                             enabled: Set<String> = allFacts) -> String {
        var out = ""
        let isDirectory = entry.kind == .directory
        for fact in factOrder where enabled.contains(fact) {
            switch fact {
            case "type": out += isDirectory ? "type=dir;" : "type=file;"
            case "size": if !isDirectory { out += "size=\(entry.size);" }
            case "modify": if let modified = entry.modified { out += "modify=\(timeVal(modified));" }
            case "perm": out += "perm=\(perm(isDirectory: isDirectory, permissions, isRoot: path == .root));"
            case "unique": out += "unique=\(unique(path));"
            default: break
            }
        }
        return out
    }

    /// RFC 3659 §7.5.5, from what the session may really do. Files: a(ppend), d(elete),
    /// f (rename), r(ead), w(rite: replace, which needs delete). Directories: c(reate files),
    /// d(elete), e(nter), f (rename), l(ist), m(kdir), p(urge); names are listed for every account.
    /// The root (the account's home) can be neither removed nor renamed.
    static func perm(isDirectory: Bool, _ permissions: AccountPermissions, isRoot: Bool = false) -> String {
        let directoryLetters: [(Character, Bool)] = [
            ("c", permissions.write), ("d", permissions.delete && !isRoot), ("e", true),
            ("f", permissions.rename && !isRoot),
            ("l", true), ("m", permissions.write), ("p", permissions.delete),
        ]
        let fileLetters: [(Character, Bool)] = [
            ("a", permissions.write), ("d", permissions.delete), ("f", permissions.rename),
            ("r", permissions.read), ("w", permissions.write && permissions.delete),
        ]
        return String((isDirectory ? directoryLetters : fileLetters).filter(\.1).map(\.0))
    }

    /// RFC 3659 §7.5.7: the same value for the same entry, another for any other. A key (a
    /// path) is the identity of an object, so this is a 64-bit FNV-1a of the path, in hex.
    static func unique(_ path: VFSPath) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in path.description.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    /// An MLSD line: facts, one space, the name. `directory` is the listed directory.
    public static func machineLine(_ entry: VFSEntry, in directory: VFSPath, permissions: AccountPermissions = .full,
                                   enabled: Set<String> = allFacts) -> String {
        "\(facts(entry, path: directory.appending(entry.name), permissions: permissions, enabled: enabled)) \(entry.name)"
    }

    /// The name alone, for NLST.
    public static func nameLine(_ entry: VFSEntry) -> String {
        listed(entry.name)
    }

    /// `Mar 05 14:22` for recent times, `Mar 05  2023` otherwise. As `ls -l`, a time in the
    /// future gets its year: clients (ftputil, FileZilla, lftp) read a date without one that
    /// lies ahead as last year's. An hour's leeway absorbs a store's clock running ahead.
    static func dateField(_ time: Double, now: Double) -> String {
        let parts = civil(time)
        let day = parts.day < 10 ? "0\(parts.day)" : "\(parts.day)"
        let month = UTCDate.monthNames[parts.month - 1]
        if now - time < halfYear && time - now < 3600 {
            return "\(month) \(day) \(twoDigits(parts.hour)):\(twoDigits(parts.minute))"
        }
        // The year right-aligned in the width of `14:22` and its space, as `ls` aligns it
        // (a year below 1000 made the line narrower than the others).
        let year = String(parts.year)
        return "\(month) \(day) " + String(repeating: " ", count: max(0, 5 - year.count)) + year
    }

    /// `YYYYMMDDhhmmss` in UTC (RFC 3659 §2.3), for MDTM and MLSD.
    public static func timeVal(_ time: Double) -> String {
        let parts = civil(time)
        return UTCDate.pad(parts.year, 4)
            + [parts.month, parts.day, parts.hour, parts.minute, parts.second].map(twoDigits).joined()
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }

    /// Calendar fields of a UTC time.
    static func civil(_ time: Double) -> UTCDate {
        UTCDate(time)
    }
}
