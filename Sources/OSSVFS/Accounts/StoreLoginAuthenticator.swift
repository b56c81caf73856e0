import Foundation

/// The seed tool's login: user `access_key_id/bucket_name` (split at the last `/`), password
/// the secret. Each session signs with its own credentials, never another session's (the seed
/// tool signed with the first key it had cached for the bucket). Verdicts are cached briefly,
/// keyed by key id, a hash of the secret and the bucket.
public struct StoreLoginAuthenticator: Authenticator {
    let factory: StoreFactory
    let options: ObjectVFS.Options
    let verdicts: LoginVerdictCache
    /// Key ids the store is known to have (it took a login with one, or told a wrong secret
    /// for one): a failed login's log line names the user only for these.
    let knownKeyIDs = KnownKeyIDs()

    public init(factory: StoreFactory, options: ObjectVFS.Options, cacheLifetime: Double = 60) {
        self.factory = factory
        self.options = options
        self.verdicts = LoginVerdictCache(lifetime: cacheLifetime)
    }

    /// Splits `AK/bucket` at the last `/`; nil when either part is empty.
    public static func split(_ user: String) -> (accessKeyID: String, bucket: String)? {
        guard let slash = user.lastIndex(of: "/") else { return nil }
        let key = String(user[..<slash])
        let bucket = String(user[user.index(after: slash)...])
        guard !key.isEmpty, !bucket.isEmpty else { return nil }
        return (key, bucket)
    }

    /// Whether `keyID` and `bucket` could name a key and a bucket of some store: none holds a
    /// `/`, a space, `%` or a control byte, and no bucket is `.` or `..` (S3's legacy names,
    /// the loosest, take letters, digits, `.`, `_` and `-`). Anything else is a wrong login,
    /// not a request to send: the store's 400 for it read as "cannot be reached" (421, with no
    /// delay and no count toward a ban).
    static func isPlausible(keyID: String, bucket: String) -> Bool {
        func allowed(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        // Key ids vary more between stores (MinIO's user names may hold `@`): only what none
        // could hold is refused, a space, `%`, a control byte or a separator.
        let keyBytes = keyID.utf8
        guard (1...128).contains(keyBytes.count), keyBytes.allSatisfy({
            $0 > 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "%") && $0 != UInt8(ascii: "\\") && $0 != UInt8(ascii: "/")
        }) else { return false }
        return (1...255).contains(bucket.utf8.count) && bucket.utf8.allSatisfy(allowed) && bucket != "." && bucket != ".."
    }

    /// The seed tool told a user name without `/` how it should look; clients that cut long
    /// user names short left their users with a bare "Login incorrect".
    public var loginHint: String? { "users are access_key_id/bucket_name, with the AccessKey secret as password" }

    /// Only for a key id the store has: a secret typed into the user field (an S3 secret holds
    /// `/` often) has the shape of `AK/bucket`, and was logged whole with the failed login.
    public func mayBeUser(_ user: String) -> Bool {
        guard let (keyID, bucket) = Self.split(user) else { return false }
        return Self.isPlausible(keyID: keyID, bucket: bucket) && knownKeyIDs.contains(keyID)
    }

    public func authenticate(user: String, password: String) async throws -> AuthenticatedSession {
        guard let (keyID, bucket) = Self.split(user), !password.isEmpty, Self.isPlausible(keyID: keyID, bucket: bucket)
        else { throw AuthenticationError.rejected }
        let credentials = StoreCredentials(accessKeyID: keyID, secretAccessKey: password)
        let cacheKey = LoginVerdictCache.Key(keyID: keyID, secretHash: Crypto.sha256Hex(Array(password.utf8)), bucket: bucket)
        let store: HTTPObjectStore
        do {
            store = try await factory.makeStore(bucket: bucket, credentials: credentials)
        } catch ObjectStoreError.accessDenied {
            // Only asking the bucket's region makes a store refuse before a session: the key
            // and secret were right (docs/SEMANTICS.md, logins).
            knownKeyIDs.insert(keyID)
            throw AuthenticationError.refusedByStore(
                "the key may not ask the bucket's region (GetBucketInfo); the administrator can grant it or name the endpoint")
        } catch let error as ObjectStoreError {
            knownKeyIDs.learn(keyID, from: error)
            throw Self.verdict(for: error)
        }
        switch await verdicts.lookup(cacheKey) {
        case true?:
            break
        case false?:
            throw AuthenticationError.rejected
        case nil:
            do {
                try await store.validateCredentials()
                await verdicts.record(cacheKey, accepted: true)
            } catch let error as ObjectStoreError {
                knownKeyIDs.learn(keyID, from: error)
                let verdict = Self.verdict(for: error)
                if verdict == .rejected { await verdicts.record(cacheKey, accepted: false) }
                throw verdict
            }
        }
        knownKeyIDs.insert(keyID)
        return AuthenticatedSession(user: user, vfs: ObjectVFS(store: store, options: options))
    }

    static func verdict(for error: ObjectStoreError) -> AuthenticationError {
        switch error {
        case .invalidCredentials, .noSuchBucket, .invalidKey: return .rejected
        // 400: the store found the request malformed, and only the login's names vary in it.
        // S3's answer to a request signed for another region: the server's settings, not the
        // secret, are wrong (as a redirect below).
        case .service(400, let code, let message, _) where code == "AuthorizationHeaderMalformed":
            return .refusedByStore("\(code): \(message)")
        case .service(let status, _, _, _) where status == 400: return .rejected
        // A bucket at another endpoint (301 PermanentRedirect), a store without the request:
        // no login will pass until the server's settings change, so 530 with the reason, not
        // 421 "try again later" that clients reconnect on for good. Stores answer these
        // before they look at the signature: they tell nothing of the secret, and no ban.
        case .service(let status, let code, let message, _)
            where ((300..<400).contains(status) && !VFSError.transientStatuses.contains(status)) || status == 501:
            return .refusedByStore("\(code): \(message)")
        default: return .unavailable("\(error)")
        }
    }
}

/// Recent login verdicts, so that a client opening many connections does not cost a request each.
actor LoginVerdictCache {
    struct Key: Hashable {
        var keyID: String
        var secretHash: String
        var bucket: String
    }

    private let lifetime: Double
    private var entries: [Key: (accepted: Bool, expires: Double)] = [:]

    init(lifetime: Double) {
        self.lifetime = lifetime
    }

    func lookup(_ key: Key) -> Bool? {
        guard let entry = entries[key] else { return nil }
        if entry.expires < MonotonicTime.now {
            entries[key] = nil
            return nil
        }
        return entry.accepted
    }

    func record(_ key: Key, accepted: Bool) {
        let now = MonotonicTime.now
        if entries.count > 10_000 { entries = entries.filter { $0.value.expires >= now } }
        entries[key] = (accepted, now + lifetime)
    }
}

/// Key ids a store is known to have, at most `limit` of them (the oldest go first).
final class KnownKeyIDs: Sendable {
    static let limit = 10_000
    private let known = LockedBox<(set: Set<String>, order: [String])>(([], []))

    func contains(_ keyID: String) -> Bool { known.withValue { $0.set.contains(keyID) } }

    func insert(_ keyID: String) {
        known.withValue { known in
            guard known.set.insert(keyID).inserted else { return }
            known.order.append(keyID)
            if known.order.count > Self.limit { known.set.remove(known.order.removeFirst()) }
        }
    }

    /// What a refusal says of the key: a wrong signature or a denial is for a key the store
    /// has; an unknown key id, or anything else (a missing bucket may be told before the key
    /// is looked at), says nothing.
    func learn(_ keyID: String, from error: ObjectStoreError) {
        switch error {
        case .invalidCredentials(let code, _) where code == "SignatureDoesNotMatch": insert(keyID)
        case .accessDenied: insert(keyID)
        default: break
        }
    }
}

/// Tries authenticators in order: the first that accepts wins (config accounts, then `AK/bucket`).
public struct ChainedAuthenticator: Authenticator {
    let authenticators: [any Authenticator]

    public init(_ authenticators: [any Authenticator]) {
        self.authenticators = authenticators
    }

    public func mayBeUser(_ user: String) -> Bool { authenticators.contains { $0.mayBeUser(user) } }

    /// The hints of the authenticators that have one. (Saying that configured accounts exist
    /// as well would tell it to anyone who connects.)
    public var loginHint: String? {
        let hints = authenticators.compactMap(\.loginHint)
        return hints.isEmpty ? nil : hints.joined(separator: "; ")
    }

    public func authenticate(user: String, password: String) async throws -> AuthenticatedSession {
        var last: any Error = AuthenticationError.rejected
        for authenticator in authenticators {
            do {
                return try await authenticator.authenticate(user: user, password: password)
            } catch AuthenticationError.rejected {
                continue
            } catch {
                last = error
            }
        }
        throw last
    }

    public func authenticateAtOnce(user: String, password: String) -> AuthenticatedSession? {
        for authenticator in authenticators {
            if let session = authenticator.authenticateAtOnce(user: user, password: password) { return session }
        }
        return nil
    }
}
