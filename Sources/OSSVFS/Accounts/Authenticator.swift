/// Turns a user name and password into a session on a VFS. The FTP frontend knows accounts
/// only through this protocol; the executable decides which authenticators exist.
public protocol Authenticator: Sendable {
    /// The session for these credentials. Throws ``AuthenticationError``.
    func authenticate(user: String, password: String) async throws -> AuthenticatedSession

    /// The session, when it can be had at once (no hash to compute, no store to ask); nil
    /// otherwise, and for wrong credentials: ``authenticate(user:password:)`` then decides.
    /// A login answered here costs the caller no trip off its thread and back.
    func authenticateAtOnce(user: String, password: String) -> AuthenticatedSession?

    /// Whether `user` names an account this authenticator could log in (whatever the
    /// password): a failed login's log line names only such users, since a user name that
    /// names none is often a password typed one field early.
    func mayBeUser(_ user: String) -> Bool

    /// How users of this authenticator log in, told with every refused login (the same text
    /// for every user name, so that it tells nothing of which names are accounts); nil when
    /// there is nothing to tell beyond the account's own name and password.
    var loginHint: String? { get }
}

extension Authenticator {
    public func authenticateAtOnce(user: String, password: String) -> AuthenticatedSession? { nil }
    public var loginHint: String? { nil }
}

/// A logged-in account: its file tree and how to name it in logs and replies.
public struct AuthenticatedSession: Sendable {
    /// The account's name, for logs and the login reply.
    public var user: String
    /// The account's view of its bucket.
    public var vfs: any VFS

    public init(user: String, vfs: any VFS) {
        self.user = user
        self.vfs = vfs
    }
}

/// Why a login failed.
public enum AuthenticationError: Error, Sendable, Equatable {
    /// Unknown user or wrong password (the two are not told apart).
    case rejected
    /// The account exists but its store could not be reached or set up.
    case unavailable(String)
    /// The store took the key and secret but refuses what a session needs (a RAM policy
    /// without GetBucketInfo): the administrator's to change, not a guess to count toward a
    /// ban. The reason is told to the client, who proved the secret.
    case refusedByStore(String)
}

/// Accounts from config.json: each a user name, a password check, and the VFS it opens.
public struct ConfiguredAccount: Sendable {
    public var username: String
    public var password: PasswordVerifier
    /// Builds the account's VFS at login.
    public var makeVFS: @Sendable () async throws -> any VFS
    /// Builds it without waiting, when that can be done (the local store).
    public var makeVFSAtOnce: (@Sendable () throws -> any VFS)?

    public init(username: String, password: PasswordVerifier, makeVFS: @escaping @Sendable () async throws -> any VFS,
                makeVFSAtOnce: (@Sendable () throws -> any VFS)? = nil) {
        self.username = username
        self.password = password
        self.makeVFS = makeVFS
        self.makeVFSAtOnce = makeVFSAtOnce
    }
}

/// Checks logins against the configured accounts.
public struct AccountAuthenticator: Authenticator {
    private let accounts: [String: ConfiguredAccount]
    // Checked when the user is unknown, so that the time taken does not reveal which users exist:
    // as costly as the accounts' own hashes (the frontends also answer every failure at one
    // deadline, which covers the hash).
    private let decoy: PasswordVerifier

    public init(accounts: [ConfiguredAccount]) {
        var byName: [String: ConfiguredAccount] = [:]
        for account in accounts where byName[account.username] == nil { byName[account.username] = account }
        self.accounts = byName
        let dearest = accounts.compactMap { account -> Int? in
            if case .pbkdf2SHA256(let iterations, _, _) = account.password { return iterations }
            return nil
        }.max() ?? 10_000
        // No dearer than ossftp passwd's: an unknown user name must not cost every guess the
        // CPU of the one account hashed at ten million iterations (the deadline hides the rest).
        let iterations = min(dearest, PasswordVerifier.defaultIterations)
        decoy = .pbkdf2SHA256(iterations: iterations, salt: [0], key: [UInt8](repeating: 0, count: 32))
    }

    public func authenticate(user: String, password: String) async throws -> AuthenticatedSession {
        let account = accounts[user]
        let verifier = account?.password ?? decoy
        // A hash takes milliseconds of CPU, so it runs off the caller's thread (often an event
        // loop); comparing a plaintext password (seed config files) does not need to.
        let matches = verifier.isPlaintext
            ? verifier.verify(password) : try await BlockingIO.run { verifier.verify(password) }
        guard let account, matches else { throw AuthenticationError.rejected }
        do {
            return AuthenticatedSession(user: user, vfs: try await account.makeVFS())
        } catch let error as ObjectStoreError {
            throw AuthenticationError.unavailable("\(error)")
        }
    }

    public func mayBeUser(_ user: String) -> Bool { accounts[user] != nil }

    public func authenticateAtOnce(user: String, password: String) -> AuthenticatedSession? {
        guard let account = accounts[user], account.password.isPlaintext, let makeVFS = account.makeVFSAtOnce,
            account.password.verify(password), let vfs = try? makeVFS()
        else { return nil }
        return AuthenticatedSession(user: user, vfs: vfs)
    }
}
