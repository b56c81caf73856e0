import COpenSSL

/// How an account's password is checked: a salted PBKDF2-HMAC-SHA256 hash, or (accepted for
/// seed config.json files, with a warning) the plaintext.
///
/// The hashed form is `pbkdf2-sha256$<iterations>$<salt hex>$<32-byte key hex>`, which Python's
/// `hashlib.pbkdf2_hmac('sha256', password, salt, iterations, 32)` reproduces.
public enum PasswordVerifier: Sendable, Equatable {
    case pbkdf2SHA256(iterations: Int, salt: [UInt8], key: [UInt8])
    case plaintext(String)

    static let scheme = "pbkdf2-sha256"
    /// Iterations for newly hashed passwords.
    public static let defaultIterations = 200_000

    /// Why `stored` is not a usable hash though it begins as one (`pbkdf2-sha256$`), or nil.
    /// A cut key would let many passwords in (only its first bytes are compared), and a few
    /// iterations make guessing cheap: such a value is a configuration error, never taken as
    /// the password itself either.
    public static func malformedHash(_ stored: String) -> String? {
        // Another tool's hash (pbkdf2-sha1$, Django's pbkdf2_sha256$, crypt's $6$...) would be
        // taken as the password itself: whoever reads the file could log in with it.
        if !stored.hasPrefix(scheme + "$") && (stored.lowercased().hasPrefix("pbkdf2") || Self.looksLikeCrypt(stored)) {
            return "a hash of a kind ossftp does not read; only pbkdf2-sha256$… (as ossftp passwd writes) is"
        }
        guard stored.hasPrefix(scheme + "$") else { return nil }
        let fields = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 4, let iterations = Int(fields[1]), let salt = bytesFromHex(String(fields[2])),
            let key = bytesFromHex(String(fields[3]))
        else { return "not of the form pbkdf2-sha256$<iterations>$<salt hex>$<key hex>" }
        if iterations < minimumIterations { return "\(iterations) iterations; at least \(minimumIterations)" }
        // Every login waits for one check at a time (the console's): a check must not take minutes.
        if iterations > maximumIterations { return "\(iterations) iterations; at most \(maximumIterations)" }
        if salt.count < 8 { return "a salt of \(salt.count) bytes; at least 8" }
        if key.count != 32 { return "a key of \(key.count) bytes; it must be 32" }
        return nil
    }

    /// Whether `stored` has the form of a crypt(3) hash: `$id$` then at least one more `$`
    /// (`$6$salt$hash`, `$2b$12$...`, `$argon2id$v=19$...`).
    static func looksLikeCrypt(_ stored: String) -> Bool {
        let fields = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count >= 4, fields[0].isEmpty, let id = fields.dropFirst().first, !id.isEmpty else { return false }
        return id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") } && stored.count >= 20
    }

    /// The fewest and most iterations a stored hash may have (as `ossftp passwd --iterations`).
    public static let minimumIterations = 1000
    public static let maximumIterations = 10_000_000

    /// Reads a stored `login_password`: the hashed form when it parses as one, else plaintext.
    public init(stored: String) {
        let fields = stored.split(separator: "$", omittingEmptySubsequences: false)
        if fields.count == 4, fields[0] == Self.scheme, let iterations = Int(fields[1]), iterations > 0,
            let salt = bytesFromHex(String(fields[2])), let key = bytesFromHex(String(fields[3])), !key.isEmpty
        {
            self = .pbkdf2SHA256(iterations: iterations, salt: salt, key: key)
        } else {
            self = .plaintext(stored)
        }
    }

    /// Hashes `password` with a fresh random salt.
    public static func hashing(_ password: String, iterations: Int = defaultIterations) -> PasswordVerifier {
        var salt = [UInt8](repeating: 0, count: 16)
        precondition(RAND_bytes(&salt, Int32(salt.count)) == 1, "OpenSSL could not produce random bytes")
        return .pbkdf2SHA256(
            iterations: iterations, salt: salt, key: derive(password, salt: salt, iterations: iterations, length: 32))
    }

    /// The stored form: what goes into config.json.
    public var storedForm: String {
        switch self {
        case .pbkdf2SHA256(let iterations, let salt, let key):
            return "\(Self.scheme)$\(iterations)$\(hexString(salt))$\(hexString(key))"
        case .plaintext(let password):
            return password
        }
    }

    public var isPlaintext: Bool {
        if case .plaintext = self { return true }
        return false
    }

    /// Whether `password` matches, compared in constant time. CPU-bound for hashed forms:
    /// call it off the event loops.
    public func verify(_ password: String) -> Bool {
        switch self {
        case .pbkdf2SHA256(let iterations, let salt, let key):
            let candidate = Self.derive(password, salt: salt, iterations: iterations, length: key.count)
            return constantTimeEqual(candidate, key)
        case .plaintext(let stored):
            return constantTimeEqual(Array(password.utf8), Array(stored.utf8))
        }
    }

    static func derive(_ password: String, salt: [UInt8], iterations: Int, length: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let bytes = Array(password.utf8)
        let result = bytes.withUnsafeBufferPointer { passwordBuffer in
            salt.withUnsafeBufferPointer { saltBuffer in
                passwordBuffer.withMemoryRebound(to: CChar.self) { passwordChars in
                    PKCS5_PBKDF2_HMAC(
                        passwordChars.baseAddress, Int32(bytes.count), saltBuffer.baseAddress, Int32(salt.count),
                        Int32(iterations), EVP_sha256(), Int32(length), &out)
                }
            }
        }
        precondition(result == 1, "PBKDF2 failed")
        return out
    }
}

/// Compares two byte strings without an early exit.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for (x, y) in zip(a, b) { difference |= x ^ y }
    return difference == 0
}
