import Testing
@testable import FTPFrontend

@Suite struct SessionLogBudgetTests {
    /// One session sending DELE of missing files as fast as it could wrote 7.6 MB of log a
    /// second; past its budget a session's lines go to DEBUG, and the next let through says so.
    @Test func pastTheBudgetLinesAreHeldAndCounted() {
        var budget = SessionLogBudget()
        let start = ContinuousClock.now
        for index in 0..<SessionLogBudget.perMinute {
            #expect(budget.admit("MKD /d\(index): done", now: start) == "MKD /d\(index): done")
        }
        for _ in 0..<5 { #expect(budget.admit("MKD /x: done", now: start + .seconds(30)) == nil) }
        #expect(budget.admit("MKD /y: done", now: start + .seconds(61))
            == "MKD /y: done (5 lines before this one were logged at DEBUG only: over 120 a minute)")
        #expect(budget.admit("MKD /z: done", now: start + .seconds(62)) == "MKD /z: done")
    }

    /// A client's name with ESC wrote a live escape sequence into the log.
    @Test func namesAreShownWithoutControlCharactersAndCut() {
        #expect(SessionLogBudget.shown("STOR /red\u{1B}[31m.txt: completed") == "STOR /red?[31m.txt: completed")
        let long = SessionLogBudget.shown("DELE /" + String(repeating: "a", count: 5000))
        #expect(long.count == SessionLogBudget.longest + 1 && long.hasSuffix("…"))
    }
}
