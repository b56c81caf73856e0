/// Rename, by policy: refused (the default), copy-then-delete, or the store's atomic rename.
extension ObjectVFS {
    public func checkRenameAllowed() throws {
        if case .refuse = renamePolicy {
            throw VFSError.unsupported(
                "rename is off: object storage has no rename (config.json \"rename\": \"copy\" turns on copy-then-delete)")
        }
    }

    public func rename(_ source: VFSPath, to destination: VFSPath, replacing: Bool) async throws {
        try checkRenameAllowed()
        guard !source.isRoot, destination.parent != nil else {
            throw VFSError.permissionDenied("the root directory cannot be renamed")
        }
        if source == destination { return }
        // After another DELE or rename of the source in this process, not beside it (NameQueue):
        // two renames by copy of one file both copied it and said 250.
        try await NameQueue.shared.serialize(Self.changeName(try key(for: source), in: store)) {
            try await renameAlone(source, to: destination, replacing: replacing)
        }
    }

    private func renameAlone(_ source: VFSPath, to destination: VFSPath, replacing: Bool) async throws {
        guard let destinationParent = destination.parent else { return }
        if destination.isWithin(source) {
            throw VFSError.invalidName("a directory cannot move into itself")
        }
        // A new name the store cannot hold is refused as that name, before anything moves (the
        // copy's refusal named the source).
        do {
            try store.validate(try key(for: destination))
        } catch let error as ObjectStoreError {
            throw VFSError(error, path: destination.description)
        }
        try await awaitPendingUploads(of: try key(for: source), source)
        try await awaitPendingUploads(of: try key(for: destination), destination)
        let entry = try await stat(source)
        try await requireDirectory(destinationParent)
        if !replacing {
            // The store's answer, not the cache's: another client may have stored the name.
            await invalidate(try key(for: destination))
            await caches.invalidate(bucket: store.identity.bucket, prefix: try directoryPrefix(for: destination))
        }
        let target: VFSEntry?
        if replacing {
            target = try? await stat(destination)
        } else {
            // A look that failed (the store away) is no "nothing there".
            do { target = try await stat(destination) } catch VFSError.notFound { target = nil }
            if target != nil { throw VFSError.alreadyExists(destination.description) }
        }
        switch (entry.kind, target?.kind) {
        case (.file, .directory?):
            throw VFSError.isDirectory(destination.description)
        case (.directory, .directory?):
            // As rename(2): an empty directory is replaced (`mv -T a b`), one with entries stays.
            try await removeDirectory(destination)
            do {
                try await renameDirectory(source, to: destination, condition: .none)
            } catch {
                try? await makeDirectory(destination)
                throw error
            }
        case (.directory, .file?):
            throw VFSError.notDirectory(destination.description)
        case (.file, _):
            try await renameFile(source, to: destination, condition: replacing ? .none : .absent)
        case (.directory, nil):
            try await renameDirectory(source, to: destination, condition: replacing ? .none : .absent)
        }
    }

    /// `condition` is on the new name: `.absent` copies (or natively renames) only where nothing
    /// was made meanwhile.
    private func renameFile(_ source: VFSPath, to destination: VFSPath, condition: WriteCondition) async throws {
        let from = try key(for: source)
        let to = try key(for: destination)
        switch renamePolicy {
        case .refuse:
            preconditionFailure("checked by rename(_:to:)")
        case .native:
            try await nativeRename(from, to, source, destination, replacing: condition == .none)
            await noteEmptied(above: [from])
        case .copy:
            let copied = try await storeCall(source) { try await store.head(from) }
            // Named by the source, as any failure of the copy is, but a name taken meanwhile.
            do {
                try await store.copy(from: from, to: to, condition: condition)
            } catch ObjectStoreError.conflict {
                throw VFSError.alreadyExists(destination.description)
            } catch let error as ObjectStoreError {
                throw Self.renameFailure(error, source, destination)
            }
            await invalidate(to)
            // The old name goes only while it holds the version copied: an upload committed to
            // it meanwhile (its 226 sent) is a file made after the rename, and was deleted with
            // the old one, its bytes lost. A store has no delete on a condition, so a commit
            // between this look and the delete can still be lost: a round trip, not a copy.
            if try await Self.holdsVersion(of: copied, store: store, source) {
                try await storeCall(source) { try await store.delete(from) }
                await noteEmptied(above: [from])
            }
        }
        await invalidate(from)
        await invalidate(to)
    }

    private func nativeRename(_ from: String, _ to: String, _ source: VFSPath, _ destination: VFSPath,
                              replacing: Bool) async throws {
        guard store.capabilities.nativeRename else {
            throw VFSError.unsupported("this bucket has no atomic rename (config.json \"rename\": \"copy\" copies instead)")
        }
        do {
            try await store.rename(from: from, to: to, replacing: replacing)
        } catch ObjectStoreError.conflict where !replacing {
            throw VFSError.alreadyExists(destination.description)
        } catch let error as ObjectStoreError {
            throw Self.renameFailure(error, source, destination)
        }
    }

    /// Whether the object at `version`'s key is still that version (gone is not).
    static func holdsVersion(of version: ObjectInfo, store: any ObjectStore, _ path: VFSPath) async throws -> Bool {
        do {
            let now = try await store.head(version.key)
            return now.etag == version.etag && now.size == version.size
        } catch ObjectStoreError.noSuchKey {
            return false
        } catch let error as ObjectStoreError {
            throw VFSError(error, path: path.description)
        }
    }

    /// A failed copy or rename of a file, named by the new name when the store refused that
    /// name (too long, not allowed), by the source otherwise.
    static func renameFailure(_ error: ObjectStoreError, _ source: VFSPath, _ destination: VFSPath) -> VFSError {
        switch error {
        case .keyTooLong, .invalidKey: return VFSError(error, path: destination.description)
        default: return VFSError(error, path: source.description)
        }
    }

    /// Every object under the directory, or a refusal when there are more than `limit`.
    private func objects(under prefix: String, limit: Int, path: VFSPath) async throws -> [ObjectInfo] {
        var objects: [ObjectInfo] = []
        var token: String?
        repeat {
            let page = try await storeCall(path) {
                try await store.listPage(ListRequest(prefix: prefix, delimiter: nil, continuationToken: token, maxKeys: 1000))
            }
            objects += page.objects
            if objects.count > limit {
                throw VFSError.unsupported(
                    "\(path) holds more than \(limit) objects; renaming it would copy them all (see config.json rename_max_objects)")
            }
            token = page.nextContinuationToken
        } while token != nil
        return objects
    }

    private func renameDirectory(_ source: VFSPath, to destination: VFSPath, condition: WriteCondition) async throws {
        let from = try directoryPrefix(for: source)
        let to = try directoryPrefix(for: destination)
        try await awaitPendingUploads(under: from, source)
        try await awaitPendingUploads(under: to, destination)
        if try await !storedDirectoryExists(source, prefix: from) {
            // A folder that stays only for a while after ossftp emptied it (directoryExists):
            // it moves as the empty folder it is, a marker at its new name.
            try await storeCall(destination) { try await store.put(to, body: .bytes([]), metadata: [:]) }
            await caches.invalidate(bucket: store.identity.bucket, prefix: to)
            await noteEmptied(above: [from])
            return
        }
        switch renamePolicy {
        case .refuse:
            preconditionFailure("checked by rename(_:to:)")
        case .native:
            try await nativeRename(from, to, source, destination, replacing: condition == .none)
        case .copy(let limit):
            let objects = try await objects(under: from, limit: limit, path: source)
            try await copyAll(objects, from: from, to: to, path: source, condition: condition, into: destination)
            // Everything is copied: now the sources go, those that still hold the version
            // copied. A file stored into the folder meanwhile, or stored over one of its files
            // (its 226 sent), is one made after the rename, and stays (it was deleted with the
            // rest, its bytes lost). A failure here leaves a complete copy and some of the
            // originals, and says so.
            let now = Dictionary(try await self.objects(under: from, limit: Int.max, path: source).map { ($0.key, $0) },
                                 uniquingKeysWith: { first, _ in first })
            let sources = objects.filter { now[$0.key]?.etag == $0.etag && now[$0.key]?.size == $0.size }.map(\.key)
            // Deepest first, so each marker goes after what is under it (folder-backed stores such
            // as SeaweedFS's filer keep a directory that still had entries when its marker went).
            let failures = try await storeCall(source) { try await store.deleteMany(sources.reversed()) }
            await caches.invalidate(bucket: store.identity.bucket, prefix: from)
            await caches.invalidate(bucket: store.identity.bucket, prefix: to)
            // The folder moved, and every folder in it with it: gone as an RMD leaves them,
            // markers or not. (After the invalidation, which takes a folder written to as not
            // removed.)
            await noteEmptied(above: sources + [from])
            if !failures.isEmpty {
                throw VFSError.storeFailure(
                    "\(destination) is complete, but \(failures.count) of \(sources.count) objects could not be removed from \(source)")
            }
            return
        }
        await caches.invalidate(bucket: store.identity.bucket, prefix: from)
        await caches.invalidate(bucket: store.identity.bucket, prefix: to)
        // Moved by the store: gone under the old name, markers or not (after the invalidation).
        await noteEmptied(above: [from])
    }

    /// Copies every key to the new prefix, eight at a time, each on `condition`; on any failure
    /// removes the copies made, so the tree is either whole at the destination or untouched.
    private func copyAll(_ objects: [ObjectInfo], from: String, to: String, path: VFSPath,
                         condition: WriteCondition, into destination: VFSPath) async throws {
        let store = self.store
        var copied: [String] = []
        var firstError: (any Error)?
        // Every copy that finished is known, also those in flight when one failed: undoing only
        // those collected before the failure left the others behind.
        await withTaskGroup(of: Result<String, any Error>.self) { group in
            var next = 0
            func add() {
                let object = objects[next]
                let key = object.key
                next += 1
                let target = to + key.droppingBytes(from.utf8.count)
                group.addTask {
                    do {
                        // An empty directory marker is written anew: cheaper than a copy, and
                        // some stores (SeaweedFS) cannot copy one. A marker that holds bytes
                        // (another tool put them there) is copied: they are not ours to drop.
                        // Without `condition`: a marker replaces nothing, and a store that
                        // keeps real folders has `d/` already once `d/sub/` is written beside
                        // it (the rename then failed as if the name had been taken).
                        if key.endsWithSlashByte && object.size == 0 {
                            try await store.put(target, body: .bytes([]), metadata: [:])
                        } else {
                            try await store.copy(from: key, to: target, condition: condition)
                        }
                        return .success(target)
                    } catch {
                        return .failure(error)
                    }
                }
            }
            while next < min(8, objects.count) { add() }
            while let result = await group.next() {
                switch result {
                case .success(let target): copied.append(target)
                case .failure(let error): firstError = firstError ?? error
                }
                if firstError == nil && next < objects.count { add() }
            }
        }
        guard let error = firstError else { return }
        // Undone: the copies made go. When the store cannot take that either (it is away),
        // they stay, and the error says where: a later rename onto it is refused (not empty)
        // until they are removed.
        let left: Int
        do {
            left = copied.isEmpty ? 0 : try await store.deleteMany(copied).count
        } catch {
            left = copied.count
        }
        await caches.invalidate(bucket: store.identity.bucket, prefix: to)
        // The copies' folders, emptied again: a store that keeps real folders (SeaweedFS) lists
        // them for minutes, a destination tree that was never made.
        // The tree was never made: its folders are gone as RMD leaves them.
        if !copied.isEmpty { await noteEmptied(above: copied + [to]) }
        // A name made meanwhile under the new one (`condition`) is the destination's.
        let failure = (error as? ObjectStoreError).map {
            if case .conflict = $0 { return VFSError.alreadyExists(destination.description) }
            return VFSError($0, path: path.description)
        } ?? error
        guard left > 0 else { throw failure }
        VFSMetrics.storeLogger.error("a failed rename left copies behind", metadata: [
            "source": "\(from)", "destination": "\(to)", "copies": "\(left)"])
        let reason = (failure as? VFSError)?.detail ?? "\(failure)"
        throw VFSError.storeFailure(
            "renaming \(path) failed (\(reason)), and the \(left) copies already made under \(to) could not be removed either: remove them")
    }
}
