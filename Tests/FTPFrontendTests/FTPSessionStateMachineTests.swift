import OSSVFS
import Testing
@testable import FTPFrontend

@Suite struct FTPSessionStateMachineTests {
    typealias Machine = FTPSessionStateMachine

    func line(_ text: String) -> FTPControlLine { .line(Array(text.utf8)) }

    func code(_ action: Machine.Action) -> Int? {
        switch action {
        case .send(let reply), .sendAndClose(let reply): return reply.code.rawValue
        default: return nil
        }
    }

    func loggedIn() -> Machine {
        var machine = Machine()
        _ = machine.receivedLine(line("USER alice"))
        _ = machine.receivedLine(line("PASS pw"))
        _ = machine.authenticationSucceeded()
        return machine
    }

    @Test func loginAsksToAuthenticateThenWelcomes() {
        var machine = Machine()
        #expect(code(machine.receivedLine(line("PWD"))) == 530)
        #expect(code(machine.receivedLine(line("PASS x"))) == 503)
        #expect(code(machine.receivedLine(line("USER alice"))) == 331)
        #expect(machine.receivedLine(line("PASS secret")) == .authenticate(user: "alice", password: "secret"))
        #expect(code(machine.authenticationSucceeded()) == 230)
        #expect(machine.isLoggedIn)
        #expect(code(machine.receivedLine(line("PWD"))) == 257)
    }

    /// RFC 2228 §3: an accepted AUTH makes the user log in again. A USER, or a whole login,
    /// made in clear carried over into the protected session.
    @Test func anAcceptedAuthForgetsTheLoginMadeInClear() {
        var machine = Machine(tls: .init(available: true))
        _ = machine.receivedLine(line("USER alice"))
        #expect(machine.receivedLine(line("AUTH TLS")) == .startTLS(
            FTPReply(.securityExchangeOK, "AUTH TLS ok: start the handshake."), loggedOut: false))
        #expect(code(machine.receivedLine(line("PASS secret"))) == 503)

        var signedIn = Machine(tls: .init(available: true))
        _ = signedIn.receivedLine(line("USER alice"))
        _ = signedIn.receivedLine(line("PASS pw"))
        _ = signedIn.authenticationSucceeded()
        guard case .startTLS(_, let loggedOut) = signedIn.receivedLine(line("AUTH TLS")) else {
            Issue.record("AUTH refused")
            return
        }
        #expect(loggedOut)
        #expect(!signedIn.isLoggedIn)
        #expect(code(signedIn.receivedLine(line("PWD"))) == 530)
    }

    /// AUTH SSL and TLS-P (the pre-RFC 4217 drafts) protect data as well; AUTH TLS and TLS-C
    /// leave that to PROT P. They were accepted and their data connections went in clear.
    @Test func authSSLAndTLSPProtectTheDataConnections() {
        for mechanism in ["TLS", "tls-c"] {
            var plain = Machine(tls: .init(available: true))
            _ = plain.receivedLine(line("AUTH \(mechanism)"))
            #expect(!plain.dataPrivate)
        }
        for mechanism in ["SSL", "tls-p"] {
            var protected = Machine(tls: .init(available: true))
            _ = protected.receivedLine(line("AUTH \(mechanism)"))
            #expect(protected.dataPrivate)
            _ = protected.receivedLine(line("PROT C"))
            #expect(!protected.dataPrivate)
        }
    }

    @Test func repeatedFailuresCloseTheConnection() {
        var machine = Machine(maxFailedLogins: 3)
        for attempt in 1...3 {
            _ = machine.receivedLine(line("USER alice"))
            _ = machine.receivedLine(line("PASS wrong"))
            let action = machine.authenticationFailed()
            if attempt < 3 {
                #expect(action == .send(FTPReply(.notLoggedIn, "Login incorrect.")))
            } else {
                guard case .sendAndClose(let reply) = action else { Issue.record("expected close"); return }
                #expect(reply.code == .serviceNotAvailable)
            }
        }
    }

    /// The seed tool told how a user name should look; a client that cut a long user name
    /// short left its user with a bare "Login incorrect". The hint is the same for every name.
    @Test func aRefusedLoginSaysHowUsersLogIn() {
        var machine = Machine(loginHint: "users are access_key_id/bucket_name")
        _ = machine.receivedLine(line("USER LTAIkey"))
        _ = machine.receivedLine(line("PASS secret"))
        #expect(machine.authenticationFailed()
            == .send(FTPReply(.notLoggedIn, "Login incorrect (users are access_key_id/bucket_name).")))
    }

    /// Right credentials a store will not serve (a RAM policy without GetBucketInfo): 530 with
    /// the reason, as the seed's users were told why.
    @Test func aLoginTheStoreRefusesSaysWhy() {
        var machine = Machine()
        _ = machine.receivedLine(line("USER LTAIkey/photos"))
        _ = machine.receivedLine(line("PASS secret"))
        #expect(machine.authenticationFailed(reason: .refusedByStore("no GetBucketInfo"))
            == .send(FTPReply(.notLoggedIn, "Login refused by the store: no GetBucketInfo.")))
    }

    @Test func anUnreachableStoreAtLoginIs421AndNoFailedLogin() {
        var machine = Machine(maxFailedLogins: 1)
        _ = machine.receivedLine(line("USER alice"))
        _ = machine.receivedLine(line("PASS pw"))
        #expect(machine.authenticationFailed(reason: .unavailable("connection refused"))
            == .sendAndClose(FTPReply(.serviceNotAvailable, "The account's storage cannot be reached now; try again later.")))
    }

    @Test func pathsResolveAgainstTheWorkingDirectory() throws {
        var machine = loggedIn()
        let target = try VFSPath(resolving: "/d")
        #expect(machine.receivedLine(line("CWD d")) == .perform(.changeDirectory(target)))
        _ = machine.operationSucceeded(.changeDirectory(target), result: .done)
        #expect(machine.workingDirectory == target)
        #expect(machine.receivedLine(line("MKD ../../x")) == .perform(.makeDirectory(try VFSPath(resolving: "/x"))))
        #expect(machine.receivedLine(line("DELE ..\\..\\y")) == .perform(.removeFile(try VFSPath(resolving: "/y"))))
        #expect(machine.receivedLine(line("CDUP")) == .perform(.changeDirectory(.root)))
        #expect(machine.receivedLine(line("PWD")) == .send(.pathReply("/d", "is the current directory.")))
    }

    /// A trailing separator names a folder (POSIX path resolution): `DELE f/` must not reach
    /// the file `f`, and no upload takes a name ending in one.
    @Test func aTrailingSeparatorNamesAFolder() throws {
        var machine = loggedIn()
        for command in ["DELE f/", "SIZE f/", "MDTM f\\", "MFMT 20240101000000 f/", "HASH f/"] {
            #expect(code(machine.receivedLine(line(command))) == 550, "\(command)")
        }
        _ = machine.receivedLine(line("PASV"))
        _ = machine.operationSucceeded(
            .openPassiveListener(extended: false), result: .passiveListener(host: "127.0.0.1", port: 51_234))
        #expect(code(machine.receivedLine(line("RETR f/"))) == 550)
        for command in ["STOR f/", "APPE f/", "STOU f/"] {
            #expect(code(machine.receivedLine(line(command))) == 553, "\(command)")
        }
        // Still ready: a refused name does not use up the data connection.
        #expect(machine.receivedLine(line("RETR f")) == .transfer(.retrieve(try VFSPath(resolving: "/f"), offset: 0)))
        machine = loggedIn()
        let folder = try VFSPath(resolving: "/d")
        #expect(machine.receivedLine(line("RNFR d/")) == .perform(.renameSource(folder, folder: true)))
        #expect(machine.receivedLine(line("RNFR d")) == .perform(.renameSource(folder, folder: false)))
        for root in ["RNFR /", "RNFR ..", "RNFR ./"] { #expect(code(machine.receivedLine(line(root))) == 550, "\(root)") }
        _ = machine.operationSucceeded(.renameSource(folder, folder: false), result: .done)
        #expect(machine.receivedLine(line("RNTO e/")) == .perform(.rename(folder, to: try VFSPath(resolving: "/e"), folder: true)))
        #expect(machine.receivedLine(line("MKD n/")) == .perform(.makeDirectory(try VFSPath(resolving: "/n"))))
        #expect(machine.receivedLine(line("RMD n/")) == .perform(.removeDirectory(try VFSPath(resolving: "/n"))))
    }

    @Test func failedOperationsMapToReplies() throws {
        var machine = loggedIn()
        let missing = try VFSPath(resolving: "/missing")
        #expect(code(machine.operationFailed(.removeFile(missing), .notFound("/missing"))) == 550)
        #expect(code(machine.operationFailed(.removeDirectory(missing), .directoryNotEmpty("/d"))) == 550)
        #expect(code(machine.operationFailed(.makeDirectory(missing), .invalidName("x"))) == 553)
        #expect(code(machine.operationFailed(.changeDirectory(missing), .notFound("/missing"))) == 550)
    }

    @Test func transfersNeedAPassivePort() throws {
        var machine = loggedIn()
        #expect(code(machine.receivedLine(line("RETR f"))) == 425)
        #expect(machine.receivedLine(line("PASV")) == .perform(.openPassiveListener(extended: false)))
        let reply = machine.operationSucceeded(
            .openPassiveListener(extended: false), result: .passiveListener(host: "127.0.0.1", port: 51_234))
        #expect(reply == .send(FTPReply(.enteringPassiveMode, "Entering Passive Mode (127,0,0,1,200,34).")))
        #expect(machine.receivedLine(line("RETR f")) == .transfer(.retrieve(try VFSPath(resolving: "/f"), offset: 0)))
    }

    /// ABOR with no transfer running closes a data connection set up for none (RFC 959
    /// §4.1.3), so the next transfer needs a new PASV.
    @Test func aborWithNoTransferClosesTheDataConnection() throws {
        var machine = loggedIn()
        _ = machine.receivedLine(line("PASV"))
        _ = machine.operationSucceeded(
            .openPassiveListener(extended: false), result: .passiveListener(host: "127.0.0.1", port: 51_234))
        #expect(machine.receivedLine(line("ABOR")) == .closeDataConnection(FTPReply(.closingDataConnection, "No transfer to abort.")))
        #expect(code(machine.receivedLine(line("RETR f"))) == 425)
    }

    /// A PASV or EPSV that fails replaces the setup made before it all the same (the server
    /// closed that one as the new one began): the next transfer needs another. It was taken
    /// for set up, and the server process stopped on the transfer (any user could end it).
    @Test func aFailedPassiveListenerLeavesNoDataConnectionSetUp() throws {
        var machine = Machine(peerAddress: "127.0.0.1")
        _ = machine.receivedLine(line("USER alice"))
        _ = machine.receivedLine(line("PASS pw"))
        _ = machine.authenticationSucceeded()
        #expect(machine.receivedLine(line("PORT 127,0,0,1,200,34")) == .perform(.prepareActiveConnection(host: "127.0.0.1", port: 51_234)))
        _ = machine.operationSucceeded(.prepareActiveConnection(host: "127.0.0.1", port: 51_234), result: .done)
        for command in ["EPSV", "PASV"] {
            let extended = command == "EPSV"
            #expect(machine.receivedLine(line(command)) == .perform(.openPassiveListener(extended: extended)))
            #expect(code(machine.operationFailed(.openPassiveListener(extended: extended), .storeFailure("no port"))) == 425)
            #expect(code(machine.receivedLine(line("RETR f"))) == 425)
        }
    }

    /// STOU after REST n: 503, as APPE (an offset names bytes of no file), and the REST is used
    /// up. It stored the data whole under a new name and answered 226.
    @Test func stouAfterARestIsRefused() throws {
        var machine = loggedIn()
        _ = machine.receivedLine(line("TYPE I"))
        _ = machine.receivedLine(line("EPSV"))
        _ = machine.operationSucceeded(.openPassiveListener(extended: true), result: .passiveListener(host: "127.0.0.1", port: 50_000))
        #expect(code(machine.receivedLine(line("REST 3"))) == 350)
        #expect(code(machine.receivedLine(line("STOU"))) == 503)
        guard case .transfer(.storeUnique(let path, nameGiven: true)) = machine.receivedLine(line("STOU s.txt")) else {
            Issue.record("expected a STOU transfer")
            return
        }
        #expect(path == (try VFSPath(resolving: "/s.txt")))
    }

    /// EPRT to the unspecified address (lftp over IPv6 sends its socket's `::`) is to the
    /// client's own address; any other address stays refused.
    @Test func eprtToTheUnspecifiedAddressIsToTheClient() throws {
        for (peer, family, unspecified) in [("::1", 2, "::"), ("127.0.0.1", 1, "0.0.0.0")] {
            var machine = Machine(controlIsIPv6: family == 2, peerAddress: peer)
            _ = machine.receivedLine(line("USER alice"))
            _ = machine.receivedLine(line("PASS pw"))
            _ = machine.authenticationSucceeded()
            #expect(machine.receivedLine(line("EPRT |\(family)|\(unspecified)|50000|"))
                == .perform(.prepareActiveConnection(host: peer, port: 50_000)))
            #expect(code(machine.receivedLine(line(family == 2 ? "EPRT |2|::2|50000|" : "EPRT |1|127.0.0.2|50000|"))) == 501)
        }
    }

    /// PROT applies to the data connections set up after it: one set up before under the other
    /// level is closed, to be set up again. It carried the transfer at the old level: in clear
    /// after PROT P, past `tls_require_data`.
    @Test func protChangingTheLevelClosesADataConnectionSetUpBefore() throws {
        var machine = Machine(tls: .init(available: true, requiredForData: true))
        _ = machine.receivedLine(line("AUTH TLS"))
        _ = machine.receivedLine(line("USER alice"))
        _ = machine.receivedLine(line("PASS pw"))
        _ = machine.authenticationSucceeded()
        _ = machine.receivedLine(line("PBSZ 0"))
        _ = machine.receivedLine(line("EPSV"))
        _ = machine.operationSucceeded(.openPassiveListener(extended: true), result: .passiveListener(host: "127.0.0.1", port: 50_000))
        #expect(machine.receivedLine(line("PROT P"))
            == .closeDataConnection(FTPReply(.ok, "Data connections are private. Send PASV, EPSV, PORT or EPRT again.")))
        #expect(code(machine.receivedLine(line("RETR f"))) == 425)
        // Set up under PROT P, and PROT P again: nothing to close.
        _ = machine.receivedLine(line("EPSV"))
        _ = machine.operationSucceeded(.openPassiveListener(extended: true), result: .passiveListener(host: "127.0.0.1", port: 50_000))
        #expect(machine.receivedLine(line("PROT P")) == .send(FTPReply(.ok, "Data connections are private.")))
        #expect(machine.receivedLine(line("RETR f")) == .transfer(.retrieve(try VFSPath(resolving: "/f"), offset: 0)))
    }

    @Test func duringATransferNoopAnswersAndOtherCommandsWait() throws {
        var machine = loggedIn()
        _ = machine.receivedLine(line("EPSV"))
        let epsv = machine.operationSucceeded(
            .openPassiveListener(extended: true), result: .passiveListener(host: "127.0.0.1", port: 50_000))
        #expect(epsv == .send(FTPReply(.enteringExtendedPassiveMode, "Entering Extended Passive Mode (|||50000|).")))
        _ = machine.receivedLine(line("STOR f"))
        let stored = try VFSPath(resolving: "/f")
        #expect(code(machine.transferStarted(.store(stored, keepingFirst: nil))) == 150)
        #expect(code(machine.receivedLine(line("NOOP"))) == 200)
        #expect(machine.receivedLine(line("PWD")) == .deferLine(line("PWD")))
        // Behind a held line, NOOP and STAT wait too: pipelined replies keep their order.
        #expect(machine.receivedLine(line("NOOP")) == .deferLine(line("NOOP")))
        #expect(machine.receivedLine(line("STAT")) == .deferLine(line("STAT")))
        #expect(code(machine.transferFinished(.completed)) == 226)
        #expect(code(machine.receivedLine(line("PWD"))) == 257)
        // The next transfer starts with nothing held.
        _ = machine.receivedLine(line("EPSV"))
        _ = machine.operationSucceeded(.openPassiveListener(extended: true), result: .passiveListener(host: "127.0.0.1", port: 50_000))
        _ = machine.receivedLine(line("STOR f"))
        _ = machine.transferStarted(.store(stored, keepingFirst: nil))
        #expect(code(machine.receivedLine(line("NOOP"))) == 200)
        // Lines refused as they stand wait their turn too: answered at once, their 500 and 501
        // came before the 226 and before the replies of lines sent ahead of them.
        #expect(machine.receivedLine(line("FOO")) == .deferLine(line("FOO")))
        #expect(machine.receivedLine(line("MKD")) == .deferLine(line("MKD")))
        #expect(machine.receivedLine(.overlong) == .deferLine(.overlong))
        #expect(code(machine.transferFinished(.completed)) == 226)
        #expect(code(machine.receivedLine(line("FOO"))) == 500)
        #expect(code(machine.receivedLine(.overlong)) == 500)
        // Before the 150 is out (NOOP pipelined right behind RETR), NOOP and STAT wait too:
        // answered at once, their replies came before the 150.
        _ = machine.receivedLine(line("EPSV"))
        _ = machine.operationSucceeded(.openPassiveListener(extended: true), result: .passiveListener(host: "127.0.0.1", port: 50_000))
        _ = machine.receivedLine(line("RETR f"))
        #expect(machine.receivedLine(line("NOOP")) == .deferLine(line("NOOP")))
        #expect(machine.receivedLine(line("STAT")) == .deferLine(line("STAT")))
        #expect(code(machine.transferStarted(.retrieve(stored, offset: 0))) == 150)
        #expect(code(machine.transferFinished(.completed)) == 226)
        #expect(code(machine.receivedLine(line("NOOP"))) == 200)
    }

    @Test func statWithAPathListsOnTheControlConnection() throws {
        var anonymous = Machine()
        #expect(code(anonymous.receivedLine(line("STAT"))) == 211)
        #expect(code(anonymous.receivedLine(line("STAT /d"))) == 530)

        var machine = loggedIn()
        let directory = try VFSPath(resolving: "/d")
        let limit = Machine.statusListingLimit
        #expect(machine.receivedLine(line("STAT -la d")) == .perform(.statusListing(directory, limit: limit)))
        // `-d`, as `ls -ld`: the directory's own entry.
        #expect(machine.receivedLine(line("STAT -ld d"))
            == .perform(.statusListing(directory, limit: limit, entryItself: true)))
        // Written with a trailing separator, the path names a folder: a file there is refused.
        #expect(machine.receivedLine(line("STAT d/"))
            == .perform(.statusListing(directory, limit: limit, folderOnly: true)))
        #expect(machine.receivedLine(line("MLST d\\")) == .perform(.machineStat(directory, folderOnly: true)))
        let complete = machine.operationSucceeded(
            .statusListing(directory, limit: limit), result: .statusLines(["-rw-r--r-- x"], directory: true, complete: true))
        #expect(complete == .send(FTPReply(.directoryStatus, lines: ["Status of /d:", "-rw-r--r-- x", "End of status."])))
        let file = machine.operationSucceeded(
            .statusListing(directory, limit: limit), result: .statusLines(["-rw-r--r-- f"], directory: false, complete: true))
        #expect(code(file) == 213)
        guard case .send(let cut) = machine.operationSucceeded(
            .statusListing(directory, limit: 2), result: .statusLines(["a", "b"], directory: true, complete: false))
        else { Issue.record("expected a reply"); return }
        #expect(cut.lines.last == "End of status: the first 2 entries; LIST or MLSD shows all.")
        #expect(code(machine.operationFailed(.statusListing(directory, limit: limit), .notFound("/d"))) == 550)

        // During a transfer STAT alone answers at once; STAT with a path waits its turn.
        _ = machine.receivedLine(line("EPSV"))
        _ = machine.operationSucceeded(.openPassiveListener(extended: true), result: .passiveListener(host: "127.0.0.1", port: 50_000))
        _ = machine.receivedLine(line("RETR f"))
        _ = machine.transferStarted(.retrieve(try VFSPath(resolving: "/f"), offset: 0))
        #expect(code(machine.receivedLine(line("STAT"))) == 211)
        #expect(machine.receivedLine(line("STAT d")) == .deferLine(line("STAT d")))
        #expect(machine.receivedLine(line("QUIT")) == .deferLine(line("QUIT")))
        #expect(code(machine.transferFinished(.completed)) == 226)
        #expect(machine.receivedLine(line("QUIT")) == .sendAndClose(FTPReply(.closingControl, "Goodbye.")))
    }

    @Test func mdtmWithATimeSetsUnlessAFileHasTheWholeName() throws {
        var machine = loggedIn()
        let whole = try VFSPath(resolving: "/20200101000000 f")
        let file = try VFSPath(resolving: "/f")
        let operation = Machine.Operation.modificationTimeOrSet(named: whole, file, 1_577_836_800)
        #expect(machine.receivedLine(line("MDTM 20200101000000 f")) == .perform(operation))
        #expect(machine.operationSucceeded(operation, result: .timeSet(1_577_836_800))
            == .send(FTPReply(.fileStatus, "Modify=20200101000000; /f")))
        // The file named `20200101000000 f` existed: its time is the answer.
        #expect(machine.operationSucceeded(operation, result: .modified(0)) == .send(FTPReply(.fileStatus, "19700101000000")))
        // No real date (month 13) and no file of the whole name: 501, not 550.
        let impossible = Machine.Operation.modificationTimeOrSet(named: try VFSPath(resolving: "/20201301000000 f"), file, nil)
        #expect(machine.receivedLine(line("MDTM 20201301000000 f")) == .perform(impossible))
        #expect(code(machine.operationFailed(impossible, .notFound("/20201301000000 f"))) == 501)
        #expect(code(machine.operationFailed(operation, .notFound("/f"))) == 550)
    }

    @Test func stouTakesTheClientsNameAndListDTheDirectoryItself() throws {
        var machine = loggedIn()
        func passive() {
            _ = machine.receivedLine(line("EPSV"))
            _ = machine.operationSucceeded(.openPassiveListener(extended: true), result: .passiveListener(host: "127.0.0.1", port: 50_000))
        }
        passive()
        let photo = try VFSPath(resolving: "/photo.jpg")
        #expect(machine.receivedLine(line("STOU photo.jpg")) == .transfer(.storeUnique(photo, nameGiven: true)))
        // The runner picked `photo.jpg.1`; the 150 names it (RFC 1123 §4.1.2.9).
        let chosen = try VFSPath(resolving: "/photo.jpg.1")
        #expect(machine.transferStarted(.storeUnique(chosen, nameGiven: true))
            == .send(FTPReply(.openingDataConnection, "FILE: photo.jpg.1")))
        _ = machine.transferFinished(.completed)
        // Outside the working directory, the whole path: `sub.1` alone would name another file.
        passive()
        _ = machine.receivedLine(line("STOU w/sub"))
        #expect(machine.transferStarted(.storeUnique(try VFSPath(resolving: "/w/sub.1"), nameGiven: true))
            == .send(FTPReply(.openingDataConnection, "FILE: /w/sub.1")))
        _ = machine.transferFinished(.completed)
        passive()
        guard case .transfer(.storeUnique(let unnamed, nameGiven: false)) = machine.receivedLine(line("STOU")) else {
            Issue.record("STOU without a name should upload under a chosen one"); return
        }
        #expect(unnamed.name?.hasPrefix("stou-") == true)
        _ = machine.transferFinished(.completed)
        passive()
        let directory = try VFSPath(resolving: "/d")
        #expect(machine.receivedLine(line("LIST -ld d")) == .transfer(.list(directory, format: .long, entryItself: true)))
    }

    @Test func restAppliesToTheNextTransferOnly() throws {
        var machine = loggedIn()
        let file = try VFSPath(resolving: "/f")
        func passive() {
            _ = machine.receivedLine(line("PASV"))
            _ = machine.operationSucceeded(.openPassiveListener(extended: false),
                                           result: .passiveListener(host: "127.0.0.1", port: 50_000))
        }
        passive()
        // In TYPE A (the default) offsets of converted line ends are not stored offsets.
        #expect(code(machine.receivedLine(line("REST 100"))) == 504)
        #expect(code(machine.receivedLine(line("REST 0"))) == 350)
        _ = machine.receivedLine(line("TYPE I"))
        #expect(code(machine.receivedLine(line("REST 100"))) == 350)
        #expect(machine.receivedLine(line("RETR f")) == .transfer(.retrieve(file, offset: 100)))
        _ = machine.transferFinished(.completed)
        // REST, then PASV (and anything else) before the transfer: the offset still applies.
        #expect(code(machine.receivedLine(line("REST 7"))) == 350)
        _ = machine.receivedLine(line("NOOP"))
        passive()
        #expect(machine.receivedLine(line("STOR f")) == .transfer(.store(file, keepingFirst: 7)))
        _ = machine.transferFinished(.completed)
        // ... to that one transfer only.
        passive()
        #expect(machine.receivedLine(line("STOR f")) == .transfer(.store(file, keepingFirst: nil)))
        _ = machine.transferFinished(.completed)
        // TYPE A forgets it.
        _ = machine.receivedLine(line("REST 7"))
        _ = machine.receivedLine(line("TYPE A"))
        _ = machine.receivedLine(line("TYPE I"))
        passive()
        #expect(machine.receivedLine(line("STOR f")) == .transfer(.store(file, keepingFirst: nil)))
        _ = machine.transferFinished(.completed)
        #expect(code(machine.receivedLine(line("REST abc"))) == 501)
        #expect(code(machine.receivedLine(line("REST -1"))) == 501)
        // Past off_t: no file has such a byte (and the VFS reads UInt64.max as "all of it").
        #expect(code(machine.receivedLine(line("REST 18446744073709551615"))) == 501)
        #expect(code(machine.receivedLine(line("REST 9223372036854775807"))) == 350)
        // APPE writes at the end: an offset before it is refused (503), not ignored with a 226;
        // the offset is gone after the refusal, and REST 0 names no place.
        passive()
        _ = machine.receivedLine(line("REST 3"))
        #expect(code(machine.receivedLine(line("APPE f"))) == 503)
        #expect(machine.receivedLine(line("APPE f")) == .transfer(.append(file)))
        _ = machine.transferFinished(.completed)
        passive()
        _ = machine.receivedLine(line("REST 0"))
        #expect(machine.receivedLine(line("APPE f")) == .transfer(.append(file)))
    }

    @Test func transferOutcomesMapToReplies() {
        var machine = loggedIn()
        #expect(code(machine.transferFinished(.refused(.notFound("/f")))) == 550)
        #expect(code(machine.transferFinished(.noDataConnection)) == 425)
        #expect(code(machine.transferFinished(.connectionLost)) == 426)
        #expect(code(machine.transferFinished(.failed(.storeUnavailable("down")))) == 451)
        #expect(code(machine.transferFinished(.failed(.noSpace("spool")))) == 452)
        #expect(code(machine.transferFinished(.refused(.busy("/f")))) == 450)
        // A download that fails after its 150 (the file deleted while read) ends 451, never 5xx.
        _ = machine.receivedLine(line("PASV"))
        _ = machine.operationSucceeded(.openPassiveListener(extended: false), result: .passiveListener(host: "127.0.0.1", port: 50_000))
        _ = machine.receivedLine(line("RETR f"))
        #expect(code(machine.transferFinished(.failed(.notFound("/f")))) == 451)
    }

    @Test func epsvAllRefusesPasvAndOtherFamilies() {
        var machine = loggedIn()
        // RFC 2428 §3: the 522 names the families this connection can use.
        for command in ["EPSV 2", "EPSV 3", "EPRT |3|127.0.0.1|5000|"] {
            #expect(machine.receivedLine(line(command))
                == .send(FTPReply(.networkProtocolNotSupported, "Network protocol not supported, use (1).")))
        }
        #expect(code(machine.receivedLine(line("EPSV ALL"))) == 200)
        #expect(code(machine.receivedLine(line("PASV"))) == 503)
    }

    /// RFC 3659 §7.8: FEAT's MLST line stars the facts OPTS MLST left on.
    @Test func featShowsTheFactsOptsMlstSelected() {
        var machine = loggedIn()
        func mlstLine() -> String? {
            guard case .send(let reply) = machine.receivedLine(line("FEAT")) else { return nil }
            return reply.lines.first { $0.hasPrefix(" MLST ") }
        }
        #expect(mlstLine() == " MLST type*;size*;modify*;perm*;unique*;")
        #expect(code(machine.receivedLine(line("OPTS MLST size;Modify;bogus;"))) == 200)
        #expect(mlstLine() == " MLST type;size*;modify*;perm;unique;")
        _ = machine.receivedLine(line("OPTS MLST"))
        #expect(mlstLine() == " MLST type;size;modify;perm;unique;")
    }

    @Test func ipv6SessionsUseEPSVNotPASV() {
        var machine = Machine(controlIsIPv6: true, peerAddress: "::1")
        _ = machine.receivedLine(line("USER a"))
        _ = machine.receivedLine(line("PASS b"))
        _ = machine.authenticationSucceeded()
        // RFC 2428 §2: the family is not supported here, not the connection failed (425).
        #expect(code(machine.receivedLine(line("PASV"))) == 522)
        #expect(machine.receivedLine(line("EPSV")) == .perform(.openPassiveListener(extended: true)))
        #expect(code(machine.receivedLine(line("EPSV 1"))) == 522)
        // PORT's address is IPv4 whatever it says: 0,0,0,0 is not this client's ::1.
        for ipv4 in ["PORT 0,0,0,0,195,80", "PORT 127,0,0,1,195,80", "EPRT |1|0.0.0.0|50000|"] {
            #expect(machine.receivedLine(line(ipv4))
                == .send(FTPReply(.networkProtocolNotSupported, "Network protocol not supported, use (2).")), "\(ipv4)")
        }
        #expect(machine.receivedLine(line("EPRT |2|::1|50000|")) == .perform(.prepareActiveConnection(host: "::1", port: 50000)))
        #expect(code(machine.receivedLine(line("EPRT |2|::2|50000|"))) == 501)
        // An IPv4 address in the mapped form is another host than this IPv6 client: it was
        // answered "522 ... use (2)" though it came as 2.
        #expect(machine.receivedLine(line("EPRT |2|::ffff:127.0.0.1|50000|"))
            == .send(FTPReply(.syntaxErrorInArguments, "Rejected data connection to a foreign address.")))
        // The client's own address however written (RFC 4291 §2.2 allows several forms).
        for written in ["0:0:0:0:0:0:0:1", "::0001", "0000::1"] {
            #expect(machine.receivedLine(line("EPRT |2|\(written)|50000|")) == .perform(.prepareActiveConnection(host: "::1", port: 50000)))
        }
        for malformed in ["::1::", "1:2:3:4:5:6:7:8:9", "fe80::1%lo", "::1.2", "::g"] {
            #expect(code(machine.receivedLine(line("EPRT |2|\(malformed)|50000|"))) == 501, "\(malformed)")
        }
        // An IPv4 client naming itself in IPv6's mapped form.
        var mapped = Machine(peerAddress: "127.0.0.1")
        _ = mapped.receivedLine(line("USER a"))
        _ = mapped.receivedLine(line("PASS b"))
        _ = mapped.authenticationSucceeded()
        #expect(mapped.receivedLine(line("EPRT |2|::ffff:127.0.0.1|50000|")) == .perform(.prepareActiveConnection(host: "127.0.0.1", port: 50000)))
        #expect(code(mapped.receivedLine(line("EPRT |2|::ffff:127.0.0.2|50000|"))) == 501)
        var v4 = Machine(peerAddress: "127.0.0.1")
        _ = v4.receivedLine(line("USER a"))
        _ = v4.receivedLine(line("PASS b"))
        _ = v4.authenticationSucceeded()
        #expect(v4.receivedLine(line("EPRT |1|127.000.000.001|50000|"))
            == .perform(.prepareActiveConnection(host: "127.0.0.1", port: 50000)))
        #expect(code(v4.receivedLine(line("EPRT |2|::|50000|"))) == 522)
        #expect(code(v4.receivedLine(line("EPRT |2|::1|50000|"))) == 522)
    }

    @Test func simpleCommands() {
        var machine = Machine()
        #expect(code(machine.receivedLine(line("SYST"))) == 215)
        #expect(code(machine.receivedLine(line("FEAT"))) == 211)
        #expect(code(machine.receivedLine(line("NOOP"))) == 200)
        #expect(code(machine.receivedLine(line("OPTS UTF8 ON"))) == 200)
        #expect(code(machine.receivedLine(.overlong)) == 500)
        var session = loggedIn()
        #expect(code(session.receivedLine(line("TYPE I"))) == 200)
        #expect(session.transferType == .image)
        #expect(code(session.receivedLine(line("MODE B"))) == 504)
        #expect(code(session.receivedLine(line("QUIT"))) == 221)
    }
}

/// HASH, XMD5, XCRC.
extension FTPSessionStateMachineTests {
    func reply(_ action: Machine.Action) -> FTPReply? {
        if case .send(let reply) = action { return reply }
        return nil
    }

    @Test func hashUsesTheSelectedAlgorithmAndTheDraftsReplyForm() throws {
        var machine = loggedIn()
        let path = try VFSPath(resolving: "/a b.bin")
        #expect(machine.receivedLine(line("HASH a b.bin")) == .perform(.checksum(path, .md5, legacy: false)))
        let sums = VFSChecksums(size: 9, md5: "0123456789abcdef0123456789abcdef", crc64: 0xAB)
        let md5 = reply(machine.operationSucceeded(.checksum(path, .md5, legacy: false), result: .checksums(sums)))
        #expect(md5?.lines == ["MD5 0-9 0123456789abcdef0123456789abcdef /a b.bin"])
        #expect(md5?.code.rawValue == 213)
        #expect(reply(machine.receivedLine(line("OPTS HASH CRC64")))?.lines == ["CRC64"])
        #expect(machine.receivedLine(line("HASH a b.bin")) == .perform(.checksum(path, .crc64, legacy: false)))
        let crc = reply(machine.operationSucceeded(.checksum(path, .crc64, legacy: false), result: .checksums(sums)))
        #expect(crc?.lines == ["CRC64 0-9 00000000000000ab /a b.bin"])
        #expect(machine.receivedLine(line("XMD5 a b.bin")) == .perform(.checksum(path, .md5, legacy: true)))
        let legacy = reply(machine.operationSucceeded(.checksum(path, .md5, legacy: true), result: .checksums(sums)))
        #expect(legacy?.code.rawValue == 250)
        #expect(legacy?.lines == ["0123456789ABCDEF0123456789ABCDEF"])
    }

    @Test func aMissingChecksumIs504AndNamesWhatIsStored() throws {
        var machine = loggedIn()
        let path = try VFSPath(resolving: "/f")
        let sums = VFSChecksums(size: 1, md5: nil, crc64: 7)
        let missing = reply(machine.operationSucceeded(.checksum(path, .md5, legacy: false), result: .checksums(sums)))
        #expect(missing?.code.rawValue == 504)
        #expect(missing?.lines.first?.contains("Stored here: CRC64") == true)
        #expect(reply(machine.receivedLine(line("OPTS HASH SHA-1")))?.code.rawValue == 504)
        #expect(machine.hashAlgorithm == .md5)
        var anonymous = Machine()
        #expect(reply(anonymous.receivedLine(line("HASH f")))?.code.rawValue == 530)
    }

    @Test func featOffersHashOnlyForTheChecksumsTheStoresKeep() {
        func feat(_ checksums: [FTPHashAlgorithm]) -> [String] {
            var machine = Machine(checksums: checksums)
            return reply(machine.receivedLine(line("FEAT")))?.lines ?? []
        }
        #expect(feat([.md5, .crc64]).contains(" HASH MD5*;CRC64"))
        #expect(feat([.md5]).contains(" HASH MD5*"))
        #expect(!feat([]).contains { $0.contains("HASH") })
        var s3 = Machine(checksums: [.md5])
        #expect(reply(s3.receivedLine(line("OPTS HASH CRC64")))?.code.rawValue == 504)
        var local = Machine(checksums: [])
        #expect(reply(local.receivedLine(line("OPTS HASH MD5")))?.lines == ["No store here keeps checksums."])
        // Asked which algorithm is in use, with none kept: none (it said MD5).
        #expect(reply(local.receivedLine(line("OPTS HASH")))?.code.rawValue == 504)
        #expect(reply(s3.receivedLine(line("OPTS HASH")))?.lines == ["MD5"])
    }
}
