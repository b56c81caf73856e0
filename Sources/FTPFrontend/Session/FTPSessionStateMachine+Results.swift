import OSSVFS

/// The results the handler feeds back: logins, operations and transfers, each turned into the
/// reply the client gets.
extension FTPSessionStateMachine {
    /// The credentials were accepted.
    public mutating func authenticationSucceeded() -> Action {
        guard case .authenticating(let user) = state else { preconditionFailure("no login in progress") }
        state = .loggedIn(user: user)
        failedLogins = 0
        return .send(FTPReply(.loggedIn, "User \(user) logged in."))
    }

    /// The credentials were refused (the handler has already waited the failure delay).
    public mutating func authenticationFailed(reason: AuthenticationError = .rejected) -> Action {
        guard case .authenticating = state else { preconditionFailure("no login in progress") }
        if case .unavailable = reason {
            // Not the client's fault and not for good: 421 (RFC 959 §4.2: service not
            // available), which clients retry, not 530, which they take as wrong credentials;
            // and it counts toward no limit of failed logins.
            state = .closed
            return .sendAndClose(FTPReply(.serviceNotAvailable, "The account's storage cannot be reached now; try again later."))
        }
        failedLogins += 1
        if case .refusedByStore(let reason) = reason, failedLogins < maxFailedLogins {
            state = .awaitingUser
            return .send(FTPReply(.notLoggedIn, "Login refused by the store: \(reason)."))
        }
        if failedLogins >= maxFailedLogins {
            state = .closed
            return .sendAndClose(FTPReply(.serviceNotAvailable, "Too many failed logins; closing."))
        }
        state = .awaitingUser
        return .send(FTPReply(.notLoggedIn, loginHint.map { "Login incorrect (\($0))." } ?? "Login incorrect."))
    }

    /// An operation finished.
    public mutating func operationSucceeded(_ operation: Operation, result: OperationResult) -> Action {
        switch (operation, result) {
        case (.changeDirectory(let path), _):
            workingDirectory = path
            return .send(FTPReply(.fileActionOK, "Directory changed to \(path)."))
        case (.makeDirectory(let path), _):
            return .send(.pathReply(path.description, "created."))
        case (.removeDirectory, _):
            return .send(FTPReply(.fileActionOK, "Directory removed."))
        case (.removeFile, _):
            return .send(FTPReply(.fileActionOK, "File removed."))
        case (.size, .size(let size)):
            return .send(FTPReply(.fileStatus, "\(size)"))
        case (.renameSource(let path, _), _):
            renameSource = path
            return .send(FTPReply(.pendingFurtherInformation, "\(path) exists; send RNTO."))
        case (.rename, _):
            return .send(FTPReply(.fileActionOK, "Renamed."))
        case (.modificationTime, .modified(let time)):
            return .send(FTPReply(.fileStatus, FTPListingFormatter.timeVal(time)))
        case (.modificationTimeOrSet, .modified(let time)):
            return .send(FTPReply(.fileStatus, FTPListingFormatter.timeVal(time)))
        case (.modificationTimeOrSet(_, let path, let time?), .timeSet(let stored)),
            (.setModificationTime(let path, let time), .timeSet(let stored)):
            return .send(FTPReply(.fileStatus, "Modify=\(FTPListingFormatter.timeVal(stored ?? time)); \(path)"))
        case (.machineStat(let path, _), .entry(let entry, let permissions)):
            let facts = FTPListingFormatter.facts(entry, path: path, permissions: permissions, enabled: machineFacts)
            return .send(FTPReply(.fileActionOK, lines: ["Listing \(path)", " \(facts) \(path)", "End"]))
        case (.prepareActiveConnection, _):
            dataConnectionReady = true
            return .send(FTPReply(.ok, "Active data connection set."))
        case (.openPassiveListener(let extended), .passiveListener(let host, let port)):
            dataConnectionReady = true
            if extended {
                return .send(FTPReply(.enteringExtendedPassiveMode, "Entering Extended Passive Mode (|||\(port)|)."))
            }
            let address = host.split(separator: ".").joined(separator: ",")
            return .send(FTPReply(.enteringPassiveMode, "Entering Passive Mode (\(address),\(port >> 8),\(port & 0xFF))."))
        case (.checksum(let path, let algorithm, let legacy), .checksums(let sums)):
            return Self.checksumReply(path: path, algorithm: algorithm, legacy: legacy, sums: sums)
        case (.statusListing(let path, let limit, _, _), .statusLines(let lines, let directory, let complete)):
            // RFC 959 §4.1.3: STAT with a path is LIST over the control connection; 212 for a
            // directory, 213 for a file (§4.2.1).
            let last = complete ? "End of status." : "End of status: the first \(limit) entries; LIST or MLSD shows all."
            return .send(FTPReply(directory ? .directoryStatus : .fileStatus,
                                  lines: ["Status of \(path):"] + lines + [last]))
        case (.size, _), (.openPassiveListener, _), (.modificationTime, _), (.machineStat, _), (.checksum, _),
            (.statusListing, _), (.modificationTimeOrSet, _), (.setModificationTime, _):
            preconditionFailure("result \(result) does not belong to \(operation)")
        }
    }

    /// An operation failed.
    public mutating func operationFailed(_ operation: Operation, _ error: VFSError) -> Action {
        if case .openPassiveListener = operation {
            return .send(FTPReply(.cannotOpenDataConnection, "Cannot open a passive port; try again shortly (the server's log says why)."))
        }
        if case .changeDirectory(let path) = operation, case .notFound = error {
            return .send(FTPReply(.fileUnavailable, "\(path): no such directory."))
        }
        if case .modificationTimeOrSet(_, _, nil) = operation, case .notFound = error {
            return .send(FTPReply(.syntaxErrorInArguments, "Not a real date and time: use MDTM YYYYMMDDHHMMSS path (UTC)."))
        }
        return .send(FTPReply(error))
    }

    /// The transfer was accepted and the data connection is about to be used.
    public mutating func transferStarted(_ transfer: Transfer) -> Action {
        transferAnnounced = true
        switch transfer {
        case .list: return .send(FTPReply(.openingDataConnection, "Here comes the listing."))
        case .retrieve(let path, _): return .send(FTPReply(.openingDataConnection, "Opening data connection for \(path)."))
        case .store(let path, _), .append(let path):
            return .send(FTPReply(.openingDataConnection, "Ready to receive \(path)."))
        case .storeUnique(let path, _):
            // RFC 1123 §4.1.2.9: the name goes in the 150 reply; one outside the working
            // directory (`STOU sub/f`) as its whole path, so that the client can reach it.
            let name = path.parent == workingDirectory ? path.name ?? "" : path.description
            return .send(FTPReply(.openingDataConnection, "FILE: \(name)"))
        }
    }

    /// The transfer ended; for uploads, `.completed` means the object is committed.
    public mutating func transferFinished(_ outcome: TransferOutcome) -> Action {
        transferring = false
        transferAnnounced = false
        holdingLines = false
        if abortRequested {
            // RFC 959 §4.1.3: 426 for the transfer, then 226 for ABOR.
            abortRequested = false
            let transferReply = outcome == .completed
                ? FTPReply(.closingDataConnection, "Transfer complete.")
                : FTPReply(.transferAborted, transferStores ? "Transfer aborted; nothing was stored." : "Transfer aborted.")
            return .sendReplies([transferReply, FTPReply(.closingDataConnection, "ABOR successful.")])
        }
        switch outcome {
        case .aborted:
            return .send(FTPReply(.transferAborted, "Transfer aborted."))
        case .stalled(let seconds):
            let stored = transferStores ? "; nothing was stored" : ""
            return .send(FTPReply(.transferAborted, "Transfer aborted: nothing moved for \(seconds) s\(stored)."))
        case .completed:
            return .send(FTPReply(.closingDataConnection, "Transfer complete."))
        case .refused(let error):
            return .send(FTPReply(error))
        case .notADirectoryListing(let path):
            return .send(FTPReply(.syntaxErrorInArguments, "\(path) is not a directory."))
        case .noDataConnection:
            return .send(FTPReply(.cannotOpenDataConnection, "No data connection was made."))
        case .connectionLost:
            return .send(FTPReply(.transferAborted, "Data connection closed; transfer aborted."))
        case .sessionNotResumed:
            // 425 may follow a 150 (RFC 959 §5.4); vsftpd and FileZilla Server refuse the
            // same way, and clients that can resume then know to.
            return .send(FTPReply(.cannotOpenDataConnection,
                                  "Data connection refused: it did not resume the control connection's TLS session."))
        case .failed(let error):
            var reply = FTPReply(error)
            // RFC 959 §5.4: after its 150 a download ends 226, 425, 426 or 451 (a file deleted
            // while it was being read gave 550, a refusal, with half of it sent).
            if !transferStores && reply.code.rawValue >= 500 { reply.code = .localError }
            return .send(reply)
        }
    }
}
