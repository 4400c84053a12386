import NIOSSL

/// HTTPS for a server (`--tls-certificate`, `--tls-key`, `--tls-client-ca`): its certificate chain and private key
/// as PEM files, and optionally the certificate authorities whose client certificates it requires (mutual TLS: a
/// client without a certificate they signed does not complete the handshake).
public struct ServerTLS: Sendable, Equatable {
    public var certificateChain: String
    public var privateKey: String
    /// PEM file of the CAs that sign client certificates; nil: no client certificate asked for.
    public var clientCA: String?

    public init(certificateChain: String, privateKey: String, clientCA: String? = nil) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.clientCA = clientCA
    }

    /// Whether clients must present a certificate.
    public var requiresClientCertificate: Bool { clientCA != nil }

    /// The NIOSSL configuration: TLS 1.2 at least, the files read now (a bad file fails the start, naming it).
    func configuration() throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateChain)
        } catch {
            throw ServerTLSError(file: certificateChain, problem: "not a PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw ServerTLSError(file: certificateChain, problem: "holds no certificate") }
        do {
            key = try NIOSSLPrivateKey(file: privateKey, format: .pem)
        } catch {
            // The key's bytes are never printed, only its file's name.
            throw ServerTLSError(file: privateKey, problem: "not a PEM private key")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if let clientCA {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCA))
            } catch {
                throw ServerTLSError(file: clientCA, problem: "not a PEM certificate file (\(error))")
            }
            // Clients are not named hosts: their certificate must chain to the CA, and the gateway maps it to a
            // registered source by its fingerprint.
            configuration.certificateVerification = .noHostnameVerification
        }
        return configuration
    }
}

/// A TLS file that cannot be used, named.
public struct ServerTLSError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String
    public var description: String { "TLS: \(file): \(problem)" }
}
