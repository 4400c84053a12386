import ArgumentParser
import Foundation
import MekongMetrics

/// `--tls-certificate`, `--tls-key`, `--tls-client-ca`: HTTPS for `mekong gateway` and `mekong serve`. Files, never
/// values on the command line, so that no key shows in `ps` or in logs.
struct TLSOptions: ParsableArguments {
    @Option(help: "PEM certificate chain to serve HTTPS with (with --tls-key).") var tlsCertificate: String?
    @Option(help: "PEM private key of --tls-certificate (readable by this user only).") var tlsKey: String?
    @Option(help: "PEM file of the CAs whose client certificates are required (mutual TLS).") var tlsClientCa: String?

    var clientCA: String? { tlsClientCa }

    func validate() throws {
        guard (tlsCertificate == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-certificate and --tls-key go together")
        }
        guard tlsClientCa == nil || tlsCertificate != nil else {
            throw ValidationError("--tls-client-ca needs --tls-certificate and --tls-key (mutual TLS is TLS)")
        }
        for path in [tlsCertificate, tlsKey, tlsClientCa].compactMap({ $0 })
        where !FileManager.default.isReadableFile(atPath: path) {
            throw ValidationError("cannot read \(path)")
        }
    }

    var serverTLS: ServerTLS? {
        guard let tlsCertificate, let tlsKey else { return nil }
        return ServerTLS(certificateChain: tlsCertificate, privateKey: tlsKey, clientCA: tlsClientCa)
    }

    var scheme: String { tlsCertificate == nil ? "http" : "https" }
}
