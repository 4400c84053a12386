import Foundation

/// A throwaway certificate authority made with openssl for TLS tests: a server certificate for 127.0.0.1 and
/// localhost, and client certificates, all signed by the CA; plus one self-signed client certificate it did not sign.
public struct TestCertificates: Sendable {
    public let directory: URL
    public var ca: String { path("ca.pem") }
    public var serverCertificate: String { path("server.pem") }
    public var serverKey: String { path("server.key") }

    /// The certificate and key files of client `name` (made by ``init(clients:)``).
    public func client(_ name: String) -> (certificate: String, key: String) {
        (path("\(name).pem"), path("\(name).key"))
    }

    /// Makes the CA, the server certificate, one CA-signed certificate per name in `clients`, and `stranger`
    /// (self-signed).
    public init(clients: [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Mekong test CA"])
        try sign("server", subject: "/CN=127.0.0.1", extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")
        for name in clients {
            try sign(name, subject: "/CN=\(name)", extensions: "extendedKeyUsage=clientAuth")
        }
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", "stranger.key", "-out", "stranger.pem", "-days", "2", "-subj", "/CN=stranger"])
    }

    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func sign(_ name: String, subject: String, extensions: String) throws {
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject])
        try extensions.write(to: directory.appendingPathComponent("\(name).ext"), atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-out", "\(name).pem", "-days", "2", "-extfile", "\(name).ext"])
    }

    private func openssl(_ arguments: [String]) throws {
        let child = try ChildProcess(URL(fileURLWithPath: "/usr/bin/openssl"), arguments, directory: directory)
        guard try child.wait(timeout: .seconds(60)) == 0 else {
            throw CertificateError(message: "openssl \(arguments.joined(separator: " ")): \(child.standardError)")
        }
    }

    struct CertificateError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
