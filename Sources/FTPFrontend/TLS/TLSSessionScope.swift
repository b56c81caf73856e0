import COpenSSL

/// The TLS sessions of one control connection. OpenSSL resumes a session only on a connection
/// with the same session id context, and every connection here shares one session cache: with
/// a context per control connection, its data connections can resume its sessions and no other
/// connection's. Without it, `tls_require_reuse` would accept a data connection that resumed
/// the session of some other connection (one that never logged in), which is what the option
/// is there to refuse (RFC 4217 §10, FileZilla Server, vsftpd's `require_ssl_reuse`).
public struct TLSSessionScope: Sendable {
    /// Random bytes, at most `SSL_MAX_SID_CTX_LENGTH` (32).
    let bytes: [UInt8]

    /// A fresh scope, for a new control connection.
    public static func random() -> TLSSessionScope {
        // OpenSSL's generator, in one call: a byte at a time from the system's cost a
        // getrandom(2) each, sixteen per connection, plain or not.
        var bytes = [UInt8](repeating: 0, count: 16)
        precondition(RAND_bytes(&bytes, Int32(bytes.count)) == 1, "OpenSSL could not produce random bytes")
        return TLSSessionScope(bytes: bytes)
    }

    /// Binds `ssl`'s sessions, new or resumed, to this scope.
    func apply(to ssl: OpaquePointer) {
        _ = SSL_set_session_id_context(ssl, bytes, UInt32(bytes.count))
    }
}
