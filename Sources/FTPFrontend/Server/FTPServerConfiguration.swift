/// How the FTP server listens and treats its clients.
public struct FTPServerConfiguration: Sendable {
    /// Address of the control listener.
    public var host: String
    /// Port of the control listener; 0 picks a free one.
    public var port: Int
    /// Ports for passive data connections; one is picked at random per transfer.
    public var passivePorts: ClosedRange<Int>
    /// Address announced in PASV replies instead of the local one (NAT, containers).
    public var masqueradeAddress: String?
    /// Wait before answering a failed login (RFC 2577 §5).
    public var failedLoginDelay: Duration
    /// Failed logins before the connection is closed.
    public var maxFailedLogins: Int
    /// How long a passive port waits for the client's data connection.
    public var dataConnectionTimeout: Duration
    /// Control lines that may wait unprocessed before the session is closed as a flood.
    public var maxPendingLines: Int
    /// A control connection with no command (and no transfer) for this long is closed with 421.
    public var idleTimeout: Duration
    /// How long a control connection's TLS handshake may take (the implicit port's, or after
    /// AUTH TLS): the idle timeout, at most 30 s. One that stalls held its place in the
    /// per-address limit for the whole idle timeout, and its closing 421 could not be sent.
    public var tlsHandshakeTimeout: Duration { min(idleTimeout, .seconds(30)) }
    /// A transfer that moves no byte for this long is aborted.
    public var stallTimeout: Duration
    /// The kernel receive buffer of data connections, in bytes; nil for its autotuning.
    public var dataReceiveBuffer: Int? = DataSocket.defaultReceiveBuffer
    /// On stop, how long transfers in progress may take to finish before they are aborted.
    public var shutdownGrace: Duration = .seconds(30)
    /// FTPS: the certificate and session cache; nil for plain FTP only.
    public var tls: TLSServerContext?
    public var requireTLSForLogin = false
    public var requireTLSForData = false
    /// Refuse private data connections that do not resume the control connection's TLS session.
    public var requireTLSSessionReuse = false
    /// Port of the implicit FTPS listener (TLS from the first byte); nil for none.
    public var implicitTLSPort: Int?
    /// The checksums some store of the server's accounts keeps (MD5 as S3 and OSS ETags,
    /// CRC-64 on OSS): what FEAT offers for HASH. None for the local store only.
    public var storedChecksums: [FTPHashAlgorithm] = FTPHashAlgorithm.offered

    public init(
        host: String = "127.0.0.1", port: Int = 2048, passivePorts: ClosedRange<Int> = 51000...53000,
        masqueradeAddress: String? = nil, failedLoginDelay: Duration = .seconds(1), maxFailedLogins: Int = 3,
        dataConnectionTimeout: Duration = .seconds(30), maxPendingLines: Int = 256,
        idleTimeout: Duration = .seconds(300), stallTimeout: Duration = .seconds(300)
    ) {
        self.idleTimeout = idleTimeout
        self.stallTimeout = stallTimeout
        self.host = host
        self.port = port
        self.passivePorts = passivePorts
        self.masqueradeAddress = masqueradeAddress
        self.failedLoginDelay = failedLoginDelay
        self.maxFailedLogins = maxFailedLogins
        self.dataConnectionTimeout = dataConnectionTimeout
        self.maxPendingLines = maxPendingLines
    }
}
