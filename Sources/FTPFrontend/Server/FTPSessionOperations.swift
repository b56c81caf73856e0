import Foundation
import Logging
import NIOCore
import OSSVFS

/// Carries out the state machine's operations that need the VFS or the network, off the
/// control connection's event loop. Each ends in one result for the state machine.
struct FTPSessionOperations: Sendable {
    typealias Machine = FTPSessionStateMachine

    /// What an operation may use from its session.
    struct Request: Sendable {
        let vfs: any VFS
        let local: SocketAddress?
        let peer: SocketAddress?
        /// TLS for the next data connection when PROT P is in force.
        let dataTLS: DataTLS?
    }

    /// An operation's result, with the data connection source it set up, if any.
    enum Outcome: Sendable {
        case success(Machine.OperationResult, DataConnectionSource?)
        case failure(VFSError)
    }

    let configuration: FTPServerConfiguration
    let group: any EventLoopGroup

    func perform(_ operation: Machine.Operation, _ request: Request, logger: Logger) async -> Outcome {
        do {
            return try await run(operation, request, logger: logger)
        } catch let error as VFSError {
            return .failure(error)
        } catch {
            return .failure(.storeFailure("\(error)"))
        }
    }

    private func run(_ operation: Machine.Operation, _ request: Request, logger: Logger) async throws -> Outcome {
        let vfs = request.vfs
        switch operation {
        case .changeDirectory(let path):
            let entry = try await vfs.stat(path)
            guard entry.kind == .directory else { throw VFSError.notDirectory(path.description) }
            return .success(.done, nil)
        case .makeDirectory(let path):
            try await vfs.makeDirectory(path)
            return .success(.done, nil)
        case .removeDirectory(let path):
            try await vfs.removeDirectory(path)
            return .success(.done, nil)
        case .removeFile(let path):
            try await vfs.removeFile(path)
            return .success(.done, nil)
        case .size(let path):
            let entry = try await vfs.stat(path)
            guard entry.kind == .file else { throw VFSError.isDirectory(path.description) }
            return .success(.size(entry.size), nil)
        case .renameSource(let path, let folder):
            // Refused renames are refused here, not after the client sent RNTO too.
            try vfs.checkRenameAllowed()
            // `RNFR f/` of a file is ENOTDIR in POSIX's rename(2); so is `RNTO g/` after it. A
            // file whose write-back upload is still on its way is waited for, as RNTO would.
            let entry = try await vfs.statSettled(path)
            if folder && entry.kind != .directory { throw VFSError.notDirectory(path.description) }
            return .success(.done, nil)
        case .rename(let source, let destination, let folder):
            if folder, try await vfs.stat(source).kind != .directory { throw VFSError.notDirectory(destination.description) }
            try await vfs.rename(source, to: destination)
            return .success(.done, nil)
        case .modificationTime(let path):
            let entry = try await vfs.stat(path)
            guard entry.kind == .file, let modified = entry.modified else {
                throw VFSError.isDirectory(path.description)
            }
            return .success(.modified(modified), nil)
        case .setModificationTime(let path, let time):
            try await vfs.setModificationTime(path, time)
            // The reply says what is stored: a file system may clamp a time it cannot keep.
            return .success(.timeSet((try? await vfs.stat(path))?.modified), nil)
        case .modificationTimeOrSet(let named, let path, let time):
            if let named, let entry = try? await vfs.stat(named), entry.kind == .file, let modified = entry.modified {
                return .success(.modified(modified), nil)
            }
            guard let time else { throw VFSError.notFound(named?.description ?? path.description) }
            try await vfs.setModificationTime(path, time)
            return .success(.timeSet((try? await vfs.stat(path))?.modified), nil)
        case .checksum(let path, _, _):
            return .success(.checksums(try await vfs.checksums(path)), nil)
        case .machineStat(let path, let folderOnly):
            var entry = try await vfs.stat(path, folderOnly: folderOnly)
            entry.name = path.description
            return .success(.entry(entry, permissions: vfs.permissions), nil)
        case .statusListing(let path, let limit, let entryItself, let folderOnly):
            let now = Date().timeIntervalSince1970
            var only: FTPWildcard?
            let listing: VFSDirectoryListing
            do {
                if entryItself {
                    let entry = try await vfs.stat(path, folderOnly: folderOnly)
                    let line = FTPListingFormatter.longLine(entry, now: now)
                    return .success(.statusLines([line], directory: entry.kind == .directory, complete: true), nil)
                }
                listing = try await vfs.list(path)
            } catch VFSError.notDirectory where !folderOnly {
                let line = FTPListingFormatter.longLine(try await vfs.stat(path), now: now)
                return .success(.statusLines([line], directory: false, complete: true), nil)
            } catch let error as VFSError {
                // No such name, but a wildcard in it: the parent's entries that match, as LIST
                // gives them over a data connection.
                guard case .notFound = error, let wildcard = path.components.last.flatMap(FTPWildcard.init),
                    let parent = path.parent
                else { throw error }
                only = wildcard
                listing = try await vfs.list(parent)
            }
            var lines: [String] = []
            for try await entry in listing where only?.matches(entry.name) ?? true {
                guard lines.count < limit else {
                    return .success(.statusLines(lines, directory: true, complete: false), nil)
                }
                lines.append(FTPListingFormatter.longLine(entry, now: now))
            }
            return .success(.statusLines(lines, directory: true, complete: true), nil)
        case .prepareActiveConnection(let host, let port):
            return .success(.done, .active(host: host, port: port, tls: request.dataTLS,
                                           receiveBuffer: configuration.dataReceiveBuffer))
        case .openPassiveListener:
            let bindHost = request.local?.plainIPAddress ?? configuration.host
            do {
                let listener = try await PassiveListener.open(
                    group: group, host: bindHost, ports: configuration.passivePorts,
                    expectedPeer: request.peer?.plainIPAddress, tls: request.dataTLS,
                    timeout: configuration.dataConnectionTimeout, receiveBuffer: configuration.dataReceiveBuffer)
                let announced = configuration.masqueradeAddress ?? bindHost
                return .success(.passiveListener(host: announced, port: listener.port), .passive(listener))
            } catch {
                // The system's words: NIO's own text has a stray parenthesis.
                let reason = (error as? IOError).map { "\(String(cString: strerror($0.errnoCode))) (errno \($0.errnoCode))" }
                    ?? "\(error)"
                logger.error("cannot open a passive port in \(configuration.passivePorts.lowerBound)-\(configuration.passivePorts.upperBound): \(reason)")
                throw VFSError.storeUnavailable("no passive port")
            }
        }
    }
}
