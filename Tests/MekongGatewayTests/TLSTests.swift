import Foundation
@testable import MekongGateway
import MekongMetrics
import MekongPostgres
import MekongTestSupport
import Testing

/// HTTPS and mutual TLS, with a CA made by openssl for the test and curl as the client.
@Suite struct TLSTests {
    /// `curl` over HTTPS trusting the test CA; the HTTP status, or nil when no HTTP answer came (handshake refused).
    /// Waits on a thread of its own (never the concurrency pool's).
    func curl(_ url: String, certificates: TestCertificates, client: (certificate: String, key: String)?,
              apiKey: String? = nil) async throws -> (status: Int?, body: String, errors: String)
    {
        try await onThread { try blockingCurl(url, certificates: certificates, client: client, apiKey: apiKey) }
    }

    func blockingCurl(_ url: String, certificates: TestCertificates, client: (certificate: String, key: String)?,
              apiKey: String? = nil) throws -> (status: Int?, body: String, errors: String)
    {
        var arguments = ["--silent", "--show-error", "--max-time", "10", "--cacert", certificates.ca,
                         "--write-out", "\n%{http_code}", url]
        if let client { arguments += ["--cert", client.certificate, "--key", client.key] }
        if let apiKey { arguments += ["-H", "Authorization: Bearer \(apiKey)"] }
        let child = try ChildProcess(URL(fileURLWithPath: "/usr/bin/curl"), arguments)
        let exit = try child.wait(timeout: .seconds(30))
        let lines = child.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        let status = exit == 0 ? lines.last.flatMap { Int($0) } : nil
        return (status, lines.dropLast().joined(separator: "\n"), child.standardError)
    }

    @Test func underMutualTLSASourceMustPresentItsOwnRegisteredCertificate() async throws {
        let certificates = try await onThread { try TestCertificates(clients: ["prov-a", "prov-b"]) }
        defer { certificates.remove() }
        let fixture = try await GatewayFixture.start {
            $0.tls = ServerTLS(certificateChain: certificates.serverCertificate, privateKey: certificates.serverKey,
                               clientCA: certificates.ca)
        }
        defer { Task { await fixture.stop() } }
        let connection = try fixture.database.connect()
        defer { connection.close() }
        try SourceRegistry(connection: connection).setClientCertificate(
            id: "prov-a", sha256: try ClientCertificate.fingerprint(pemFile: certificates.client("prov-a").certificate))
        let base = "https://127.0.0.1:\(fixture.server.port)"
        let receipt = "\(base)/v1/receipts/01a250ce-9add-7981-9157-ddefc82409c9"

        // Its own certificate and API key: through (no such receipt, so 404 — past authentication).
        let own = try await curl(receipt, certificates: certificates, client: certificates.client("prov-a"), apiKey: fixture.apiKeyA)
        #expect(own.status == 404, "\(own)")
        // Another certificate the CA signed (prov-b's), with prov-a's API key: refused, naming why.
        let borrowed = try await curl(receipt, certificates: certificates, client: certificates.client("prov-b"), apiKey: fixture.apiKeyA)
        #expect(borrowed.status == 403 && borrowed.body.contains("not the one registered for source prov-a"), "\(borrowed)")
        // prov-b has a CA-signed certificate but none registered: refused.
        let unregistered = try await curl(receipt, certificates: certificates, client: certificates.client("prov-b"), apiKey: fixture.apiKeyB)
        #expect(unregistered.status == 403 && unregistered.body.contains("no client certificate registered"), "\(unregistered)")
        // No certificate, or one the CA did not sign: no HTTP answer at all, even for /healthz.
        for client in [nil, certificates.client("stranger")] {
            let refused = try await curl("\(base)/healthz", certificates: certificates, client: client)
            #expect(refused.status == nil, "\(String(describing: client)): \(refused)")
        }
        #expect(try await curl("\(base)/healthz", certificates: certificates, client: certificates.client("prov-a")).status == 200)
        // Plain HTTP on the TLS port: no answer.
        let plain = try await curl("http://127.0.0.1:\(fixture.server.port)/healthz", certificates: certificates, client: nil)
        #expect(plain.status == nil || plain.status == 0, "\(plain)")
    }

    /// `mekong gateway` and `mekong serve` with the TLS options; a key file that is not a key fails the start,
    /// naming the file and never printing what it holds.
    @Test func theCommandsServeHTTPSAndNeverPrintAKeyFile() async throws {
        let certificates = try await onThread { try TestCertificates(clients: []) }
        defer { certificates.remove() }
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let environment = ["MEKONG_KAFKA": fixture.cluster.bootstrapServers, "MEKONG_POSTGRES": fixture.database.url,
                           "XDG_STATE_HOME": certificates.directory.appendingPathComponent("state").path]
        for command in [["gateway"], ["serve"]] {
            let port = try freeTCPPort()
            let child = try ChildProcess(
                MekongBinary.url,
                command + ["--port", String(port), "--tls-certificate", certificates.serverCertificate,
                           "--tls-key", certificates.serverKey], environment: environment)
            defer { child.signal(SIGKILL) }  // if the checks below throw
            var status: Int?
            for _ in 0..<200 where status != 200 {
                status = try await curl("https://127.0.0.1:\(port)/healthz", certificates: certificates, client: nil).status
                if status != 200 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(status == 200, "\(command): \(child.standardError)")
            #expect(child.standardError.contains("listening on https://"), "\(child.standardError)")
            child.signal(SIGTERM)
            _ = try? await onThread { try child.wait(timeout: .seconds(30)) }
        }
        let secret = certificates.directory.appendingPathComponent("not-a-key.pem")
        try "SECRET-MATERIAL-4f1c9a".write(to: secret, atomically: true, encoding: .utf8)
        let failed = try await ChildProcess.runOffPool(
            ["gateway", "--port", "0", "--tls-certificate", certificates.serverCertificate, "--tls-key", secret.path],
            environment: environment)
        #expect(failed.status != 0)
        #expect(failed.errors.contains(secret.path) && failed.errors.contains("not a PEM private key"), "\(failed.errors)")
        #expect(!(failed.output + failed.errors).contains("SECRET-MATERIAL"))
        let unpaired = try await ChildProcess.runOffPool(["gateway", "--tls-certificate", certificates.serverCertificate])
        #expect(unpaired.status != 0 && unpaired.errors.contains("--tls-certificate and --tls-key go together"))
    }
}
