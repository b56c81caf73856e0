import OSSVFS

/// The control session as a value: it takes events (lines, results of the work it asked for)
/// and returns actions (replies to send, work to do). It performs no I/O, so it is tested
/// without sockets; ``FTPControlHandler`` executes the actions.
public struct FTPSessionStateMachine: Sendable {
    enum State: Equatable {
        case awaitingUser
        case awaitingPassword(user: String)
        case authenticating(user: String)
        case loggedIn(user: String)
        case closed
    }

    var state = State.awaitingUser
    /// The directory relative paths start from.
    public internal(set) var workingDirectory = VFSPath.root
    /// The representation type; transfers are binary either way (see docs/SEMANTICS.md).
    public internal(set) var transferType = FTPTransferType.ascii
    var failedLogins = 0
    /// Whether a data connection is set up (PASV/EPSV listening, or PORT/EPRT given).
    var dataConnectionReady = false
    /// ABOR came during a transfer: its reply follows the transfer's.
    var abortRequested = false
    var extendedPassiveOnly = false
    var transferring = false
    /// The running transfer's 150 is out: until then NOOP and STAT wait like other lines, or
    /// their replies would come before it.
    var transferAnnounced = false
    /// A line was held during this transfer (answered after its reply): later ones are held
    /// behind it, so that pipelined commands are answered in the order sent.
    var holdingLines = false
    /// Whether the transfer running is an upload (what ABOR's 426 says).
    var transferStores = false
    /// The path named by RNFR, for the RNTO that must follow it.
    var renameSource: VFSPath?
    /// The offset named by REST, for the RETR or STOR that must follow it.
    var restartOffset: UInt64?
    /// The MLST/MLSD facts on (RFC 3659 §7.9, OPTS MLST).
    public internal(set) var machineFacts: Set<String> = FTPListingFormatter.allFacts
    /// The algorithm HASH answers with (OPTS HASH).
    public internal(set) var hashAlgorithm = FTPHashAlgorithm.md5
    /// The algorithms some store keeps (FEAT's HASH line, OPTS HASH).
    let checksums: [FTPHashAlgorithm]
    let maxFailedLogins: Int
    let controlIsIPv6: Bool
    /// The control connection's peer: PORT and EPRT may only point there (RFC 2577 §3).
    let peerAddress: String?
    let tls: TLSPolicy
    /// Whether the control connection is encrypted, PBSZ was given, and data is private.
    public internal(set) var controlEncrypted = false
    var protectionBufferSet = false
    public internal(set) var dataPrivate = false

    /// Told with every 530 for a failed login: how users of this server log in.
    let loginHint: String?

    public init(maxFailedLogins: Int = 3, controlIsIPv6: Bool = false, peerAddress: String? = nil,
                tls: TLSPolicy = TLSPolicy(), implicitTLS: Bool = false,
                checksums: [FTPHashAlgorithm] = FTPHashAlgorithm.offered, loginHint: String? = nil) {
        self.maxFailedLogins = maxFailedLogins
        self.loginHint = loginHint
        self.checksums = checksums
        hashAlgorithm = checksums.first ?? .md5
        self.controlIsIPv6 = controlIsIPv6
        self.peerAddress = peerAddress
        self.tls = tls
        // Implicit FTPS (MS-FTPS): TLS from the first byte, PBSZ 0 and PROT P implied.
        if implicitTLS {
            controlEncrypted = true
            protectionBufferSet = true
            dataPrivate = true
        }
    }

    /// The greeting sent when the connection opens.
    public static let greeting = FTPReply(.serviceReady, "ossftp ready.")

    public var isLoggedIn: Bool {
        if case .loggedIn = state { return true }
        return false
    }

    // MARK: - Control lines

    /// A line arrived on the control connection.
    public mutating func receivedLine(_ line: FTPControlLine) -> Action {
        guard case .line(let bytes) = line else {
            return refusing(line, FTPReply(.syntaxError, "Command line too long."))
        }
        switch FTPCommandParser.parse(bytes, loggedIn: isLoggedIn) {
        case .refused(let reply):
            return refusing(line, reply)
        case .command(let command, _):
            if transferring {
                switch command {
                // ABOR alone may pass the lines held (RFC 959 §4.1.3 has it sent urgently).
                case .abor:
                    abortRequested = true
                    return .abortTransfer
                case .noop where transferAnnounced && !holdingLines:
                    return .send(FTPReply(.ok, "NOOP ok, transfer in progress."))
                case .stat(nil, _) where transferAnnounced && !holdingLines: return .send(status)
                // QUIT waits too: RFC 959 §4.1.1 keeps the connection open for the transfer's
                // reply (an upload is committed first), then closes it.
                default:
                    holdingLines = true
                    return .deferLine(line)
                }
            }
            return handle(command)
        }
    }

    /// A line refused as it stands (unknown, malformed, too long): answered now, or during a
    /// transfer held like any other, so that its reply keeps its place after the transfer's and
    /// those of the lines sent before it (a pipelining client pairs replies by order).
    mutating func refusing(_ line: FTPControlLine, _ reply: FTPReply) -> Action {
        guard transferring else { return .send(reply) }
        holdingLines = true
        return .deferLine(line)
    }

    mutating func quit() -> Action {
        state = .closed
        return .sendAndClose(FTPReply(.closingControl, "Goodbye."))
    }

    mutating func handle(_ command: FTPCommand) -> Action {
        // RFC 959 §4.1.3: RNTO must come right after RNFR.
        let pendingRename = renameSource
        renameSource = nil
        // REST applies to the next transfer command (RFC 3659 §5.2), whatever comes between:
        // clients send REST before PASV as often as after, and dropping the offset there
        // turned a resumed upload into a replacement of the file by its tail. TYPE A and REIN
        // forget it.
        let pendingRestart = restartOffset
        switch command {
        case .retr, .stor, .appe, .stou, .list, .nlst, .mlsd, .rest, .rein, .type(.ascii):
            restartOffset = nil
        default:
            break
        }
        switch command {
        case .user(let name):
            if isLoggedIn { return .send(FTPReply(.notLoggedIn, "Already logged in; the user cannot change.")) }
            if tls.requiredForLogin && !controlEncrypted {
                return .send(FTPReply(.notLoggedIn, "This server requires TLS: send AUTH TLS first."))
            }
            state = .awaitingPassword(user: name)
            // RFC 2577 §5: the same answer whether or not the user exists.
            return .send(FTPReply(.needPassword, "Password required for \(name)."))
        case .pass(let password):
            switch state {
            case .awaitingPassword(let user):
                state = .authenticating(user: user)
                return .authenticate(user: user, password: password)
            case .loggedIn:
                return .send(FTPReply(.superfluous, "Already logged in."))
            case .awaitingUser, .authenticating, .closed:
                return .send(FTPReply(.badSequence, "Send USER first."))
            }
        case .quit:
            return quit()
        case .acct:
            return .send(FTPReply(.superfluous, "ACCT not needed."))
        case .rein:
            return reinitialize()
        case .allo:
            return .send(FTPReply(.superfluous, "ALLO not needed: space is taken as data arrives."))
        case .clnt:
            return .send(FTPReply(.ok, "Noted."))
        case .pret:
            return .send(FTPReply(.ok, "Ready for the transfer."))
        case .site(let argument):
            return site(argument)
        case .abor:
            dataConnectionReady = false
            return .closeDataConnection(FTPReply(.closingDataConnection, "No transfer to abort."))
        case .port(let host, let port, let family):
            return activeConnection(host: host, port: port, family: family)
        case .eprtFamily:
            return .send(FTPReply(.networkProtocolNotSupported, "Network protocol not supported, use (\(controlIsIPv6 ? 2 : 1))."))
        case .stou where (pendingRestart ?? 0) > 0:
            // STOU makes a new file: an offset would name bytes of none (as APPE after REST n).
            return .send(FTPReply(.badSequence, "REST \(pendingRestart ?? 0) does not apply to STOU, which makes a new file."))
        case .stou(nil):
            return transfer("stou-" + Self.uniqueSuffix()) { .storeUnique($0, nameGiven: false) }
        case .stou(let name?):
            return transfer(name, naming: .newFile) { .storeUnique($0, nameGiven: true) }
        case .syst:
            return .send(FTPReply(.systemType, "UNIX Type: L8"))
        case .stat(nil, _):
            return .send(status)
        case .stat(let argument?, let directoryItself):
            guard isLoggedIn else { return .send(FTPReply(.notLoggedIn, "Log in with USER and PASS first.")) }
            return resolving(argument) {
                .perform(.statusListing($0, limit: Self.statusListingLimit, entryItself: directoryItself,
                                        folderOnly: Self.endsInSeparator(argument)))
            }
        case .feat:
            return .send(FTPCommandTable.featReply(tls: tls.available, hash: hashAlgorithm, checksums: checksums,
                                                   machineFacts: machineFacts))
        case .auth(let mechanism):
            guard tls.available else { return .send(FTPReply(.notImplemented, "TLS is not configured on this server.")) }
            guard ["TLS", "SSL", "TLS-C", "TLS-P"].contains(mechanism.uppercased()) else {
                return .send(FTPReply(.parameterNotImplemented, "AUTH \(mechanism) not supported; use AUTH TLS."))
            }
            guard !controlEncrypted else { return .send(FTPReply(.badSequence, "TLS is already on.")) }
            if case .authenticating = state { return .send(FTPReply(.badSequence, "A login is in progress.")) }
            controlEncrypted = true
            // RFC 2228 §3: "The server must also require that the user reauthorize": a USER
            // or a login made in clear does not carry over into the protected session.
            let loggedOut = if case .loggedIn = state { true } else { false }
            if state != .awaitingUser { _ = reinitialize() }
            // SSL and TLS-P, from the drafts RFC 4217 replaced, protect the data connections
            // too (as vsftpd takes them): a client that chose one must not have its files sent
            // in clear for want of PROT P.
            if ["SSL", "TLS-P"].contains(mechanism.uppercased()) {
                protectionBufferSet = true
                dataPrivate = true
            }
            return .startTLS(FTPReply(.securityExchangeOK, "AUTH \(mechanism.uppercased()) ok: start the handshake."),
                             loggedOut: loggedOut)
        case .pbsz(let size):
            guard controlEncrypted else { return .send(FTPReply(.badSequence, "PBSZ needs AUTH TLS first.")) }
            // RFC 4217 §8: a decimal size; any is answered with PBSZ=0 (TLS needs no buffer).
            guard !size.isEmpty, size.utf8.count <= 10, size.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                return .send(FTPReply(.syntaxErrorInArguments, "PBSZ needs a decimal size; send PBSZ 0."))
            }
            protectionBufferSet = true
            return .send(FTPReply(.ok, "PBSZ=0"))
        case .prot(let level):
            guard protectionBufferSet else { return .send(FTPReply(.badSequence, "PROT needs PBSZ first.")) }
            switch level.uppercased() {
            case "P":
                return protect(private: true, "Data connections are private.")
            case "C":
                // RFC 2228 §4 lists 534 among PROT's replies for a level refused by policy; 521
                // (RFC 4217 §9) is the transfer's, when it is sent under such a level.
                if tls.requiredForData { return .send(FTPReply(.policyRefused, "Data connections must be encrypted.")) }
                return protect(private: false, "Data connections are clear.")
            case "S", "E":
                return .send(FTPReply(.protectionLevelNotSupported, "PROT \(level) is not supported; use P or C."))
            default:
                return .send(FTPReply(.parameterNotImplemented, "Unknown PROT level \(level)."))
            }
        case .ccc:
            guard controlEncrypted else { return .send(FTPReply(.badSequence, "The control connection is not encrypted.")) }
            return .send(FTPReply(.policyRefused, "CCC refused: the control connection stays encrypted."))
        case .help(let verb):
            return .send(FTPCommandTable.helpReply(for: verb, tls: tls.available, checksums: checksums))
        case .noop:
            return .send(FTPReply(.ok, "NOOP ok."))
        case .opts(let option):
            return opts(option)
        case .pwd:
            return .send(.pathReply(workingDirectory.description, "is the current directory."))
        case .cwd(let argument):
            return resolving(argument) { .perform(.changeDirectory($0)) }
        case .cdup:
            return .perform(.changeDirectory(workingDirectory.parent ?? .root))
        case .type(let type):
            transferType = type
            return .send(FTPReply(.ok, type == .image ? "Type set to I." : "Type set to A."))
        case .mode(let mode):
            return mode.uppercased() == "S"
                ? .send(FTPReply(.ok, "Mode set to S.")) : .send(FTPReply(.parameterNotImplemented, "Only mode S."))
        case .stru(let structure):
            return structure.uppercased() == "F"
                ? .send(FTPReply(.ok, "Structure set to F."))
                : .send(FTPReply(.parameterNotImplemented, "Only structure F."))
        case .pasv:
            if extendedPassiveOnly { return .send(FTPReply(.badSequence, "PASV refused after EPSV ALL.")) }
            // PASV's reply holds an IPv4 address only (RFC 2428 §1).
            if controlIsIPv6 { return .send(FTPReply(.networkProtocolNotSupported, "PASV has no IPv6 form; use EPSV.")) }
            // The setup made before is closed now, whether or not this one opens.
            dataConnectionReady = false
            return .perform(.openPassiveListener(extended: false))
        case .epsv(let argument):
            switch argument {
            case .all:
                extendedPassiveOnly = true
                return .send(FTPReply(.ok, "EPSV ALL ok."))
            case .family(let family) where family != (controlIsIPv6 ? 2 : 1):
                return .send(FTPReply(.networkProtocolNotSupported, "Network protocol not supported, use (\(controlIsIPv6 ? 2 : 1))."))
            case .any, .family:
                dataConnectionReady = false
                return .perform(.openPassiveListener(extended: true))
            }
        case .list(let argument, let directoryItself):
            let folderOnly = Self.endsInSeparator(argument ?? "")
            return transfer(argument) { .list($0, format: .long, entryItself: directoryItself, folderOnly: folderOnly) }
        case .nlst(let argument):
            let folderOnly = Self.endsInSeparator(argument ?? "")
            return transfer(argument) {
                .list($0, format: .names, namePrefix: Self.writtenFolder(argument), folderOnly: folderOnly)
            }
        case .mlsd(let argument):
            return transfer(argument) { .list($0, format: .machine) }
        case .mlst(let argument):
            let folderOnly = Self.endsInSeparator(argument ?? "")
            return resolving(argument ?? ".") { .perform(.machineStat($0, folderOnly: folderOnly)) }
        case .mdtm(let argument):
            return resolving(argument, naming: .file) { .perform(.modificationTime($0)) }
        case .mfmt(let time, let argument):
            return resolving(argument, naming: .file) { .perform(.setModificationTime($0, time)) }
        case .mdtmSet(let time, let argument, let whole):
            // A file named like `20240101000000 x` is asked about, as before; only when no such
            // file exists is the argument a time and a path.
            return resolving(argument, naming: .file) { path in
                let named = try? VFSPath(resolving: whole, from: workingDirectory)
                return .perform(.modificationTimeOrSet(named: named, path, time))
            }
        case .rnfr(let argument):
            return resolving(argument) { path in
                guard !path.isRoot else { return .send(FTPReply(.fileUnavailable, "/: the root cannot be renamed.")) }
                return .perform(.renameSource(path, folder: Self.endsInSeparator(argument)))
            }
        case .rnto(let argument):
            guard let source = pendingRename else { return .send(FTPReply(.badSequence, "Send RNFR first.")) }
            return resolving(argument) { .perform(.rename(source, to: $0, folder: Self.endsInSeparator(argument))) }
        case .retr(let argument):
            return transfer(argument, naming: .file) { .retrieve($0, offset: pendingRestart ?? 0) }
        case .stor(let argument):
            return transfer(argument, naming: .newFile) { .store($0, keepingFirst: pendingRestart) }
        case .appe(let argument):
            // APPE writes at the end whatever the offset: doing that and answering 226 after a
            // REST that named another place would report what was not done. REST 0 is no place.
            if let pendingRestart, pendingRestart > 0 {
                return .send(FTPReply(.badSequence, "REST \(pendingRestart) does not apply to APPE; send STOR to resume at an offset."))
            }
            return transfer(argument, naming: .newFile) { .append($0) }
        case .rest(let offset):
            // In TYPE A the offset would count converted (CRLF) bytes, which are not the
            // stored ones: resuming there would skip or repeat data (RFC 3659 §5.3).
            if offset > 0 && transferType == .ascii {
                return .send(FTPReply(.parameterNotImplemented, "REST needs TYPE I: in ASCII mode offsets differ from the stored bytes."))
            }
            restartOffset = offset
            return .send(FTPReply(.pendingFurtherInformation, "Restarting at \(offset). Send RETR or STOR."))
        case .size(let argument):
            return resolving(argument, naming: .file) { .perform(.size($0)) }
        case .dele(let argument):
            return resolving(argument, naming: .file) { .perform(.removeFile($0)) }
        case .mkd(let argument):
            return resolving(argument) { .perform(.makeDirectory($0)) }
        case .rmd(let argument):
            return resolving(argument) { .perform(.removeDirectory($0)) }
        case .hash(let argument, let algorithm, let legacy):
            let chosen = algorithm ?? hashAlgorithm
            return resolving(argument, naming: .file) { .perform(.checksum($0, chosen, legacy: legacy)) }
        }
    }

    /// What a path argument must name.
    enum Naming {
        /// A file or a folder.
        case any
        /// An existing file.
        case file
        /// A file to be written.
        case newFile
    }

    /// Resolves a path argument against the working directory, or refuses it.
    ///
    /// A path written with a trailing separator names a folder, as in POSIX path resolution
    /// (`f/` of a file is ENOTDIR): `DELE f/` must not delete the file `f`, which resolving
    /// alone would make of it.
    func resolving(_ argument: String, naming: Naming = .any, _ next: (VFSPath) -> Action) -> Action {
        if naming != .any, Self.endsInSeparator(argument) {
            return naming == .file
                ? .send(FTPReply(.fileUnavailable, "\(argument): a path ending in / names a folder, not a file."))
                : .send(FTPReply(.fileNameNotAllowed, "\(argument): a file's name cannot end in /."))
        }
        do {
            return next(try VFSPath(resolving: argument, from: workingDirectory))
        } catch let error as VFSError {
            return .send(FTPReply(error))
        } catch {
            return .send(FTPReply(.syntaxErrorInArguments, "Invalid path."))
        }
    }

    /// Whether `argument` ends in `/` or `\` (both separate, see ``VFSPath``).
    static func endsInSeparator(_ argument: String) -> Bool {
        argument.utf8.last == UInt8(ascii: "/") || argument.utf8.last == UInt8(ascii: "\\")
    }

    mutating func transfer(_ argument: String?, naming: Naming = .any, _ make: (VFSPath) -> Transfer) -> Action {
        if tls.requiredForData && !dataPrivate {
            // RFC 4217 §9: 521 when the PROT level does not allow the data connection.
            return .send(FTPReply(.dataProtectionRefused, "Data connections must be encrypted: send PBSZ 0 and PROT P."))
        }
        guard dataConnectionReady else {
            return .send(FTPReply(.cannotOpenDataConnection, "Use PASV, EPSV, PORT or EPRT first."))
        }
        let action = resolving(argument ?? ".", naming: naming) { .transfer(make($0)) }
        if case .transfer(let transfer) = action {
            transferring = true
            dataConnectionReady = false
            switch transfer {
            case .store, .append, .storeUnique: transferStores = true
            case .list, .retrieve: transferStores = false
            }
        }
        return action
    }

    /// The folder part of an argument as the client wrote it (`sub/` of `sub/*.jpg` or of
    /// `sub/a.jpg`); empty when it names none.
    static func writtenFolder(_ argument: String?) -> String {
        // `\` separates too (VFSPath reads it so, for clients on Windows): `d\*` names `d\x`.
        func isSeparator(_ character: Character) -> Bool { character == "/" || character == "\\" }
        guard var trimmed = argument?[...] else { return "" }
        // `sub/a.jpg/` is still `sub/a.jpg`, as a path.
        while let last = trimmed.last, isSeparator(last) { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(where: isSeparator) else { return "" }
        return String(trimmed[...slash])
    }

    /// PORT and EPRT: only to the client's own address and to ports from 1024 on, so the
    /// server cannot be used to reach a third party (FTP bounce, RFC 2577 §3).
    mutating func activeConnection(host written: String, port: Int, family: Int) -> Action {
        if extendedPassiveOnly { return .send(FTPReply(.badSequence, "PORT and EPRT refused after EPSV ALL.")) }
        // An address of the other family names no host this client can be (PORT holds IPv4
        // only): the reply that says which family to use (RFC 2428 §2). Over IPv6 that is the
        // family given (judged by the address, an IPv4-mapped one sent as 2 was told "use
        // (2)"; it is a foreign address); over IPv4 the address, which may be the client's
        // own in the mapped form.
        guard controlIsIPv6 ? family == 2 : !written.contains(":") else {
            return .send(FTPReply(.networkProtocolNotSupported, "Network protocol not supported, use (\(controlIsIPv6 ? 2 : 1))."))
        }
        // The unspecified address names no other host: lftp over IPv6 sends `EPRT |2|::|port|`
        // (its socket's own bound address), and retried in passive mode 15 s after the 501.
        // The connection goes to the client's address, as for any other.
        let host = written == "::" || written == "0.0.0.0" ? peerAddress ?? written : written
        guard let peerAddress, host == peerAddress else {
            return .send(FTPReply(.syntaxErrorInArguments, "Rejected data connection to a foreign address."))
        }
        guard port >= 1024 else {
            return .send(FTPReply(.syntaxErrorInArguments, "Rejected data connection to a privileged port."))
        }
        dataConnectionReady = false
        return .perform(.prepareActiveConnection(host: host, port: port))
    }

    /// PROT: a data connection set up before under the other level is closed, to be set up
    /// again. It would carry the transfer at the level in force when it was made: clear after
    /// PROT P (past `tls_require_data`), or TLS to a client that asked for clear.
    mutating func protect(private wanted: Bool, _ text: String) -> Action {
        defer { dataPrivate = wanted }
        guard dataConnectionReady, dataPrivate != wanted else { return .send(FTPReply(.ok, text)) }
        dataConnectionReady = false
        return .closeDataConnection(FTPReply(.ok, text + " Send PASV, EPSV, PORT or EPRT again."))
    }

    /// REIN (RFC 959 §4.1.1): back to before USER.
    mutating func reinitialize() -> Action {
        // TLS stays as it is (RFC 4217 §11).
        state = .awaitingUser
        workingDirectory = .root
        transferType = .ascii
        dataConnectionReady = false
        extendedPassiveOnly = false
        machineFacts = FTPListingFormatter.allFacts
        return .reinitialize(FTPReply(.serviceReady, "Ready for a new user."))
    }
}
