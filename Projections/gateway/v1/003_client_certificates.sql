-- Mutual TLS (docs/gateway.md, "TLS"): the SHA-256 fingerprint of the DER client certificate a source must present
-- when the gateway requires client certificates. NULL: none registered (such a source is refused under mutual TLS).
ALTER TABLE gateway.sources
    ADD COLUMN client_certificate_sha256 text CHECK (client_certificate_sha256 ~ '^[0-9a-f]{64}$');
