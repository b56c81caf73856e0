import Testing
@testable import FTPFrontend

@Suite struct FTPWildcardTests {
    @Test func starsAndQuestionMarks() throws {
        let jpg = try #require(FTPWildcard("*.jpg"))
        #expect(jpg.matches("a.jpg") && jpg.matches(".jpg") && jpg.matches("x.y.jpg"))
        #expect(!jpg.matches("a.jpeg") && !jpg.matches("a.jpg.txt"))
        let one = try #require(FTPWildcard("g?.bin"))
        #expect(one.matches("g1.bin") && !one.matches("g.bin") && !one.matches("g12.bin"))
        let inner = try #require(FTPWildcard("a*b*c"))
        #expect(inner.matches("abc") && inner.matches("aXbYc") && inner.matches("abcbc") && !inner.matches("acb"))
        let all = try #require(FTPWildcard("*"))
        #expect(all.matches("") && all.matches("照片 1.jpg"))
        #expect(FTPWildcard("plain.txt") == nil)
    }

    /// Many stars against a long name that almost matches: with one backtracking point this
    /// is quick (a naive recursive matcher would not finish: C(4000, 40) ways to place them).
    @Test func manyStarsAgainstANearMiss() throws {
        let pattern = try #require(FTPWildcard(String(repeating: "a*", count: 40) + "b"))
        #expect(!pattern.matches(String(repeating: "a", count: 4000)))
        #expect(pattern.matches(String(repeating: "a", count: 4000) + "b"))
    }
}
