import COpenSSL

/// The server side of FTPS on OpenSSL: one `SSL_CTX` with the certificate, TLS 1.2 and newer
/// only, and a server session cache, so that data connections can resume the control
/// connection's session (FileZilla Server and vsftpd require it; swift-nio-ssl has no
/// session-cache interface).
public final class TLSServerContext: @unchecked Sendable {
    let context: OpaquePointer

    /// Loads a PEM certificate chain and its private key. Throws a message naming the file.
    public init(certificatePath: String, keyPath: String) throws {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError("cannot create a TLS context") }
        self.context = context
        guard cossl_ctx_set_min_tls12(context) == 1 else { throw TLSError("cannot require TLS 1.2") }
        guard SSL_CTX_use_certificate_chain_file(context, certificatePath) == 1 else {
            throw TLSError("cannot load the certificate \(certificatePath): \(Self.lastError())")
        }
        var askedForPassphrase: Int32 = 0
        let loaded = withUnsafeMutablePointer(to: &askedForPassphrase) { asked in
            cossl_ctx_refuse_passphrase(context, asked)
            defer { cossl_ctx_refuse_passphrase(context, nil) }
            return SSL_CTX_use_PrivateKey_file(context, keyPath, SSL_FILETYPE_PEM) == 1
        }
        if askedForPassphrase != 0 {
            throw TLSError("the private key \(keyPath) is encrypted; ossftp needs it without a passphrase "
                + "(openssl pkey -in \(keyPath) -out plain-key.pem, then keep that file mode 600)")
        }
        guard loaded, SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError("cannot load the private key \(keyPath) (or it does not match): \(Self.lastError())")
        }
        // TLS 1.2: forward secrecy and AEAD only (Mozilla's "intermediate"); TLS 1.3's suites
        // are all such.
        guard SSL_CTX_set_cipher_list(context, Self.tls12Ciphers) == 1 else {
            throw TLSError("cannot set the TLS 1.2 ciphers: \(Self.lastError())")
        }
        // DH parameters sized to the certificate, for the DHE suites.
        _ = cossl_ctx_set_dh_auto(context)
        _ = cossl_ctx_enable_server_session_cache(context)
        let name = Array("ossftp".utf8)
        _ = SSL_CTX_set_session_id_context(context, name, UInt32(name.count))
    }

    deinit {
        SSL_CTX_free(context)
    }

    static let tls12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    static func lastError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "unknown error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(cString: buffer)
    }
}

/// A TLS set-up or handshake failure.
public struct TLSError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
