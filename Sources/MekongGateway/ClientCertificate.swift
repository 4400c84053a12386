import MekongEvents
import NIOCore
import NIOSSL

/// A source's client certificate under mutual TLS, known by the SHA-256 of its DER form (what
/// `mekong sources set-client-certificate` registers and `openssl x509 -outform DER | sha256sum` prints).
public enum ClientCertificate {
    /// The fingerprint of the first certificate in a PEM file.
    public static func fingerprint(pemFile: String) throws -> String {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(pemFile)
        } catch {
            throw SourceRegistryError(source: "-", message: "\(pemFile) is not a PEM certificate file (\(error))")
        }
        guard let first = certificates.first else {
            throw SourceRegistryError(source: "-", message: "\(pemFile) holds no certificate")
        }
        return fingerprint(der: try first.toDERBytes())
    }

    static func fingerprint(der: [UInt8]) -> String { EventHash.sha256(der).hex }
}

extension Gateway {
    /// Under mutual TLS, after the API key: the connection's client certificate (which the handshake already
    /// checked against the client CA) must be the one registered for `source`. Otherwise 403.
    func checkClientCertificate(of source: RegisteredSource, on channel: any Channel) async throws {
        guard let certificate = try? await channel.nioSSL_peerCertificate().get(), let der = try? certificate.toDERBytes()
        else {
            throw Problem.forbidden("this gateway requires a client certificate and the connection presented none")
        }
        let presented = ClientCertificate.fingerprint(der: der)
        guard let registered = source.clientCertificateSHA256 else {
            throw Problem.forbidden(
                "source \(source.id) has no client certificate registered (mekong sources set-client-certificate)")
        }
        guard registered == presented else {
            throw Problem.forbidden(
                "the client certificate (SHA-256 \(presented)) is not the one registered for source \(source.id)")
        }
    }
}
