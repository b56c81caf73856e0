import OSSVFS
import Testing
@testable import FTPFrontend

@Suite struct FTPListingFormatterTests {
    // 2026-03-05 14:22:09 UTC
    let time = 1_772_720_529.0

    @Test func recentFilesShowTheTime() {
        let entry = VFSEntry(name: "my file.txt", kind: .file, size: 1234, modified: time)
        #expect(FTPListingFormatter.longLine(entry, now: time + 86_400)
            == "-rw-r--r-- 1 owner group          1234 Mar 05 14:22 my file.txt")
    }

    @Test func oldFilesShowTheYear() {
        let entry = VFSEntry(name: "d", kind: .directory, size: 0, modified: time)
        #expect(FTPListingFormatter.longLine(entry, now: time + 400 * 86_400)
            == "drwxr-xr-x 1 owner group             0 Mar 05  2026 d")
    }

    @Test func yearsOfFewerDigitsKeepTheColumnsWidth() {
        // 0001-01-01 00:00:00 UTC and 0999-12-31: the year right-aligned as `ls -l` aligns it.
        #expect(FTPListingFormatter.dateField(-62_135_596_800, now: time) == "Jan 01     1")
        #expect(FTPListingFormatter.dateField(-30_610_310_400, now: time) == "Dec 31   999")
        #expect(FTPListingFormatter.dateField(time - 400 * 86_400, now: time).count == "Mar 05 14:22".count)
    }

    /// Six months as GNU ls counts them, half a mean Gregorian year (182.62 days): at 182.55
    /// days ossftp showed the year where `ls -l` showed the time.
    @Test func sixMonthsAreHalfAMeanGregorianYear() {
        let entry = VFSEntry(name: "f", kind: .file, size: 0, modified: time)
        #expect(FTPListingFormatter.longLine(entry, now: time + 182.55 * 86_400)
            == "-rw-r--r-- 1 owner group             0 Mar 05 14:22 f")
        #expect(FTPListingFormatter.longLine(entry, now: time + 182.63 * 86_400)
            == "-rw-r--r-- 1 owner group             0 Mar 05  2026 f")
    }

    /// As `ls -l`: a future time shows its year (clients read a year-less date ahead of
    /// them as last year's), beyond an hour's leeway for a store's clock.
    @Test func futureFilesShowTheYear() {
        let entry = VFSEntry(name: "f", kind: .file, size: 0, modified: time)
        #expect(FTPListingFormatter.longLine(entry, now: time - 30 * 86_400)
            == "-rw-r--r-- 1 owner group             0 Mar 05  2026 f")
        #expect(FTPListingFormatter.longLine(entry, now: time - 60)
            == "-rw-r--r-- 1 owner group             0 Mar 05 14:22 f")
    }

    @Test func undatedEntriesKeepOneTimeFromListingToListing() {
        let directory = VFSEntry(name: "d", kind: .directory, size: 0, modified: nil)
        let now = FTPListingFormatter.timeOfUndated
        let first = FTPListingFormatter.longLine(directory, now: now)
        #expect(FTPListingFormatter.longLine(directory, now: now + 120) == first)
        #expect(first == FTPListingFormatter.longLine(
            VFSEntry(name: "d", kind: .directory, size: 0, modified: now), now: now))
    }

    @Test func permSaysWhatTheAccountMayDoAndUniqueNamesTheEntry() throws {
        #expect(FTPListingFormatter.perm(isDirectory: false, .full) == "adfrw")
        #expect(FTPListingFormatter.perm(isDirectory: false, .readOnly) == "r")
        #expect(FTPListingFormatter.perm(isDirectory: false, .noDelete) == "ar")
        #expect(FTPListingFormatter.perm(isDirectory: true, .uploadOnly) == "celm")
        #expect(FTPListingFormatter.perm(isDirectory: true, AccountPermissions(rename: false)) == "cdelmp")
        // RMD / and RNFR / are refused whatever the account: the root says so.
        #expect(FTPListingFormatter.perm(isDirectory: true, .full, isRoot: true) == "celmp")
        let a = try VFSPath(resolving: "/d/a"), b = try VFSPath(resolving: "/d/b")
        #expect(FTPListingFormatter.unique(a) == FTPListingFormatter.unique(try VFSPath(resolving: "/d/./a")))
        #expect(FTPListingFormatter.unique(a) != FTPListingFormatter.unique(b))
        let line = FTPListingFormatter.machineLine(VFSEntry(name: "a", kind: .file, size: 3, modified: time),
                                                   in: try VFSPath(resolving: "/d"), permissions: .readOnly)
        #expect(line == "type=file;size=3;modify=20260305142209;perm=r;unique=\(FTPListingFormatter.unique(a)); a")
    }

    @Test func timeValIsUTC() {
        #expect(FTPListingFormatter.timeVal(time) == "20260305142209")
        #expect(FTPListingFormatter.timeVal(951_782_400) == "20000229000000")
    }

    /// A key with ESC in its name sent escape sequences to the terminal of whoever listed its
    /// folder; backspaces could hide part of a name. MLSD keeps the exact name for programs.
    @Test func controlCharactersInNamesAreListedAsQuestionMarks() {
        let name = "x\u{8}\u{8}fake\u{1B}[2J\t\u{7F}\u{9B}31m\u{202E}exe"
        let entry = VFSEntry(name: name, kind: .file, size: 1, modified: time)
        let shown = "x??fake?[2J???31m?exe"
        #expect(FTPListingFormatter.nameLine(entry) == shown)
        #expect(FTPListingFormatter.longLine(entry, now: time).hasSuffix(" 14:22 " + shown))
        #expect(FTPListingFormatter.machineLine(entry, in: .root).hasSuffix("; " + name))
        // Everything else is listed as it is, non-ASCII included.
        for name in ["a b.txt", "中文名.txt", "quote\"d'", "e\u{301}", "~!@#$%^&*()"] {
            #expect(FTPListingFormatter.listed(name) == name)
        }
    }
}
