import Testing
import TestSupport
@testable import OSSVFS

@Suite struct PasswordVerifierTests {
    // Computed with Python: hashlib.pbkdf2_hmac('sha256', b'correct horse',
    // bytes.fromhex('00112233445566778899aabbccddeeff'), 1000, 32).hex()
    let stored = "pbkdf2-sha256$1000$00112233445566778899aabbccddeeff$"
        + "4c5805526868c915a4cba43d75ec6b0a07152bb7b9ca30501c96ea0f91886829"

    @Test func hashedFormMatchesPythonsPBKDF2() {
        let verifier = PasswordVerifier(stored: stored)
        #expect(!verifier.isPlaintext)
        #expect(verifier.verify("correct horse"))
        #expect(!verifier.verify("correct horse "))
        #expect(verifier.storedForm == stored)
    }

    @Test func anythingElseIsPlaintext() {
        let verifier = PasswordVerifier(stored: "pbkdf2-sha256$x$00$00")
        #expect(verifier.isPlaintext)
        #expect(verifier.verify("pbkdf2-sha256$x$00$00"))
        #expect(!verifier.verify("other"))
    }

    @Test func freshHashesUseRandomSalts() {
        let one = PasswordVerifier.hashing("pw", iterations: 1000)
        let two = PasswordVerifier.hashing("pw", iterations: 1000)
        #expect(one != two)
        #expect(one.verify("pw") && two.verify("pw"))
        #expect(PasswordVerifier(stored: one.storedForm) == one)
    }

    @Test func authenticatorRejectsUnknownUsersAndWrongPasswords() async throws {
        let account = ConfiguredAccount(username: "alice", password: PasswordVerifier(stored: stored)) {
            throw ObjectStoreError.noSuchBucket("b")
        }
        let authenticator = AccountAuthenticator(accounts: [account])
        await #expect(throws: AuthenticationError.rejected) {
            try await authenticator.authenticate(user: "bob", password: "correct horse")
        }
        await #expect(throws: AuthenticationError.rejected) {
            try await authenticator.authenticate(user: "alice", password: "wrong")
        }
        await #expect(throws: AuthenticationError.self) {
            try await authenticator.authenticate(user: "alice", password: "correct horse")
        }
    }

    /// Only a plaintext password with a VFS that needs no waiting is answered at once; anything
    /// else (a hash, a wrong password, an unknown user, a store to ask) is left to `authenticate`.
    @Test func authenticationAtOnceOnlyForPlaintextOnTheSpot() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        _ = try folder.make("bucket")
        let local: @Sendable () throws -> any VFS = {
            ObjectVFS(store: try LocalStore(root: folder.path, bucket: "bucket"), spool: SpoolConfiguration(directory: folder.path + "/spool"))
        }
        let plain = ConfiguredAccount(username: "carol", password: PasswordVerifier(stored: "open sesame"),
                                      makeVFS: { try local() }, makeVFSAtOnce: local)
        let hashed = ConfiguredAccount(username: "alice", password: PasswordVerifier(stored: stored),
                                       makeVFS: { try local() }, makeVFSAtOnce: local)
        let remote = ConfiguredAccount(username: "dave", password: PasswordVerifier(stored: "pw")) { try local() }
        let authenticator = ChainedAuthenticator([AccountAuthenticator(accounts: [plain, hashed, remote])])
        #expect(authenticator.authenticateAtOnce(user: "carol", password: "open sesame")?.user == "carol")
        #expect(authenticator.authenticateAtOnce(user: "carol", password: "open") == nil)
        #expect(authenticator.authenticateAtOnce(user: "alice", password: "correct horse") == nil)
        #expect(authenticator.authenticateAtOnce(user: "dave", password: "pw") == nil)
        #expect(authenticator.authenticateAtOnce(user: "nobody", password: "pw") == nil)
    }

    /// A store that answers a login with a redirect (the bucket at another endpoint) or 501
    /// was "unavailable": 421 "try again later", which clients reconnect on for good. It is
    /// a refusal with the store's reason (530, no ban); wrong secrets stay rejections.
    @Test func aLoginTheStoreRedirectsIsRefusedWithItsReason() {
        let redirect = ObjectStoreError.service(status: 301, code: "PermanentRedirect", message: "Use the other endpoint.",
                                                requestID: nil)
        #expect(StoreLoginAuthenticator.verdict(for: redirect) == .refusedByStore("PermanentRedirect: Use the other endpoint."))
        let notImplemented = ObjectStoreError.service(status: 501, code: "NotImplemented", message: "No.", requestID: nil)
        #expect(StoreLoginAuthenticator.verdict(for: notImplemented) == .refusedByStore("NotImplemented: No."))
        let otherRegion = ObjectStoreError.service(status: 400, code: "AuthorizationHeaderMalformed", message: "Wrong region.",
                                                   requestID: nil)
        #expect(StoreLoginAuthenticator.verdict(for: otherRegion) == .refusedByStore("AuthorizationHeaderMalformed: Wrong region."))
        let settling = ObjectStoreError.service(status: 307, code: "TemporaryRedirect", message: "x", requestID: nil)
        guard case .unavailable = StoreLoginAuthenticator.verdict(for: settling) else {
            Issue.record("a 307 at login is not unavailable")
            return
        }
        let malformed = ObjectStoreError.service(status: 400, code: "InvalidArgument", message: "x", requestID: nil)
        #expect(StoreLoginAuthenticator.verdict(for: malformed) == .rejected)
        let outage = ObjectStoreError.service(status: 503, code: "ServiceUnavailable", message: "x", requestID: nil)
        guard case .unavailable = StoreLoginAuthenticator.verdict(for: outage) else {
            Issue.record("a 503 at login is not unavailable")
            return
        }
    }
}
