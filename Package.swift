// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Mekong",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mekong", targets: ["MekongCLI"]),
        .executable(name: "mekong-bench", targets: ["MekongBenchmarks"]),
        .library(name: "MekongEvents", targets: ["MekongEvents"]),
        .library(name: "MekongCatalog", targets: ["MekongCatalog"]),
        .library(name: "MekongKafka", targets: ["MekongKafka"]),
        .library(name: "MekongPostgres", targets: ["MekongPostgres"]),
    ],
    dependencies: [
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // C libraries, each behind its own shim; no C type leaves the Swift module that wraps it.
        .systemLibrary(
            name: "CRdKafka", pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(
            name: "CLibPQ", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]),
        .systemLibrary(
            name: "CLZ4", pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]),
        .target(name: "MekongLZ4", dependencies: ["CLZ4"], swiftSettings: strict),

        // The event envelope: CloudEvents 1.0, canonical JSON (RFC 8785), SHA-256 event hash.
        .target(
            name: "MekongEvents",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        // The topic catalog in Topics/: topic definitions and JSON Schemas per event type and version.
        .target(name: "MekongCatalog", dependencies: ["MekongEvents"], swiftSettings: strict),
        // Kafka through librdkafka: producer, consumer, admin, in-process mock cluster.
        .target(
            name: "MekongKafka",
            dependencies: ["CRdKafka", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        // PostgreSQL through libpq: connections, parameterized queries, COPY, migrations.
        .target(
            name: "MekongPostgres",
            dependencies: ["CLibPQ", .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strict),
        // Reading event files and publishing them all-or-nothing.
        .target(
            name: "MekongPublishing",
            dependencies: ["MekongEvents", "MekongCatalog", "MekongKafka"],
            swiftSettings: strict),
        // The projection engine: consumer, checkpoints, batches, dead letters, upcasting, versions, metrics.
        .target(
            name: "MekongProjection",
            dependencies: [
                "MekongEvents", "MekongCatalog", "MekongKafka", "MekongPostgres", "MekongPublishing",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        // Prometheus text on an HTTP /metrics endpoint for whatever the process records through swift-metrics.
        .target(
            name: "MekongMetrics",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict),
        // The log's backup: partitions to NDJSON segments with a SHA-256 manifest, verified, restored to a new cluster.
        .target(
            name: "MekongArchive",
            dependencies: ["MekongEvents", "MekongKafka", "MekongPostgres"],
            swiftSettings: strict),
        // The audit-trail projection: every event recorded once, hash-chained per partition.
        .target(
            name: "MekongAudit",
            dependencies: ["MekongEvents", "MekongEvidence", "MekongKafka", "MekongPostgres", "MekongProjection", "MekongPublishing"],
            swiftSettings: strict),
        // Evidence: Ed25519 keys, signed events and bodies, signed receipts, Merkle roots, reconciliation.
        .target(
            name: "MekongEvidence",
            dependencies: ["MekongEvents", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        // The ingestion gateway: REST API for source systems (openapi.yaml), admission, receipts, reconciliation.
        .target(
            name: "MekongGateway",
            dependencies: [
                "MekongEvents", "MekongCatalog", "MekongKafka", "MekongPostgres", "MekongPublishing", "MekongEvidence",
                "MekongMetrics", "MekongStatisticalEvents", "MekongAccess",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("openapi.yaml")],
            swiftSettings: strict),
        // The statistical event vocabulary: builders of the catalog's statistical events, survey batch keys and rows,
        // Vietnam's administrative units. What the gateway, the demo and generators need, without the projections.
        .target(
            name: "MekongStatisticalEvents", dependencies: ["MekongEvents", "MekongLZ4"], swiftSettings: strict),
        // The statistical projections: statistics (master data, indicator tables), registers, surveys.
        .target(
            name: "MekongStatistics",
            dependencies: [
                "MekongEvents", "MekongKafka", "MekongPostgres", "MekongProjection", "MekongLZ4", "MekongStatisticalEvents",
            ],
            swiftSettings: strict),
        // Who may call and how often: API keys (shown once, stored as SHA-256) and per-client quotas.
        .target(name: "MekongAccess", dependencies: ["MekongEvents"], swiftSettings: strict),
        // Reading the statistics projection's indicator tables: selections, disclosure, CSV / SDMX-CSV / JSON streamed
        // by the server. What `mekong query` and the read API both ask through.
        .target(name: "MekongIndicatorQueries", dependencies: ["MekongEvents", "MekongPostgres"], swiftSettings: strict),
        // The read API (`mekong serve`, openapi.yaml): the indicator tables over HTTP, open and secured data.
        .target(
            name: "MekongReadAPI",
            dependencies: [
                "MekongEvents", "MekongPostgres", "MekongIndicatorQueries", "MekongMetrics", "MekongAccess",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("openapi.yaml")],
            swiftSettings: strict),
        // The operators' live console (`mekong console`): projections, dead letters, sources and a topic's tail in a
        // browser, over JSON and server-sent events. Reads only.
        .target(
            name: "MekongConsole",
            dependencies: [
                "MekongEvents", "MekongKafka", "MekongPostgres", "MekongProjection", "MekongMetrics",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("console.html")],
            swiftSettings: strict),
        // The `mekong` command-line tool.
        .executableTarget(
            name: "MekongCLI",
            dependencies: [
                "MekongEvents", "MekongCatalog", "MekongKafka", "MekongPostgres", "MekongPublishing",
                "MekongProjection", "MekongAudit", "MekongStatistics", "MekongStatisticalEvents", "MekongMetrics", "MekongEvidence",
                "MekongGateway", "MekongIndicatorQueries", "MekongReadAPI", "MekongAccess", "MekongArchive", "MekongConsole",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // Benchmarks with same-run baselines (BENCHMARKS.md).
        .executableTarget(
            name: "MekongBenchmarks",
            dependencies: [
                "MekongEvents", "MekongCatalog", "MekongKafka", "MekongPostgres", "MekongPublishing", "MekongProjection",
                "MekongAudit", "MekongEvidence", "MekongGateway", "MekongStatistics", "MekongStatisticalEvents",
                "MekongIndicatorQueries", "MekongReadAPI",
            ],
            swiftSettings: strict),
        // Shared by the tests only: throwaway databases on the real server, mock clusters, the built binary.
        .target(
            name: "MekongTestSupport",
            dependencies: [
                "MekongEvents", "MekongPostgres", "MekongKafka", "MekongCatalog", "MekongProjection", "MekongPublishing",
                "MekongStatistics", "MekongStatisticalEvents",
            ],
            swiftSettings: strict),

        .testTarget(name: "MekongEventsTests", dependencies: ["MekongEvents"], swiftSettings: strict),
        .testTarget(name: "MekongCatalogTests", dependencies: ["MekongCatalog"], swiftSettings: strict),
        .testTarget(
            name: "MekongKafkaTests", dependencies: ["MekongKafka", "MekongTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "MekongPostgresTests", dependencies: ["MekongPostgres", "MekongTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "MekongMetricsTests",
            dependencies: [
                "MekongMetrics", .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ], swiftSettings: strict),
        .testTarget(
            name: "MekongProjectionTests",
            dependencies: ["MekongProjection", "MekongPublishing", "MekongMetrics", "MekongTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "MekongAuditTests",
            dependencies: ["MekongAudit", "MekongEvidence", "MekongPublishing", "MekongTestSupport"],
            swiftSettings: strict),
        .testTarget(name: "MekongLZ4Tests", dependencies: ["MekongLZ4"], swiftSettings: strict),
        .testTarget(
            name: "MekongArchiveTests", dependencies: ["MekongArchive", "MekongKafka", "MekongTestSupport"],
            swiftSettings: strict),
        .testTarget(name: "MekongEvidenceTests", dependencies: ["MekongEvidence"], swiftSettings: strict),
        .testTarget(
            name: "MekongGatewayTests",
            dependencies: [
                "MekongGateway", "MekongEvidence", "MekongStatistics", "MekongStatisticalEvents", "MekongProjection",
                "MekongPublishing", "MekongMetrics",
                "MekongTestSupport",
            ],
            // Checks answers against openapi.yaml's schemas with jsonschema (GatewayContractTests).
            exclude: ["contract_check.py", "partition_check.py"],
            swiftSettings: strict),
        .testTarget(
            name: "MekongStatisticsTests",
            dependencies: [
                "MekongStatistics", "MekongStatisticalEvents", "MekongProjection", "MekongPublishing", "MekongTestSupport",
            ],
            // The oracle's SQL, read by MaterializedTablesTests from the repository.
            exclude: ["Reference"],
            swiftSettings: strict),
        .testTarget(
            name: "MekongIntegrationTests",
            dependencies: [
                "MekongEvents", "MekongKafka", "MekongPostgres", "MekongPublishing", "MekongStatisticalEvents",
                "MekongTestSupport",
            ],
            swiftSettings: strict),
        .testTarget(name: "MekongAccessTests", dependencies: ["MekongAccess"], swiftSettings: strict),
        .testTarget(
            name: "MekongReadAPITests",
            dependencies: [
                "MekongReadAPI", "MekongIndicatorQueries", "MekongPostgres", "MekongPublishing", "MekongStatistics",
                "MekongStatisticalEvents", "MekongProjection", "MekongTestSupport", "MekongGateway", "MekongAccess", "MekongKafka",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["sdmx_check.py"],
            swiftSettings: strict),
        // `mekong dev`, the gateway and projectors as child processes while `mekong dev chaos` breaks the cluster.
        .testTarget(
            name: "MekongChaosTests",
            dependencies: [
                "MekongEvents", "MekongEvidence", "MekongGateway", "MekongKafka", "MekongPostgres", "MekongTestSupport",
            ],
            swiftSettings: strict),
    ]
)
