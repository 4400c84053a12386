import Foundation
import Testing

@testable import MekongCatalog

@Suite("Catalog.locate")
struct CatalogLocatorTests {
    @Test func findsTheRepositoryCatalogFromASubdirectory() throws {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let found = try #require(
            Catalog.locate(startingAt: here, environment: [:], currentDirectory: "/", executable: nil))
        #expect(found.standardizedFileURL.path == CatalogFixtures.topicsDirectory.standardizedFileURL.path)
    }

    @Test func environmentVariableWins() throws {
        let topics = try CatalogFixtures.makeCatalog()
        let elsewhere = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let found = Catalog.locate(
            startingAt: elsewhere, environment: ["MEKONG_TOPICS": topics.path], currentDirectory: "/", executable: nil)
        #expect(found?.path == topics.path)
        let wrong = Catalog.locate(
            startingAt: elsewhere, environment: ["MEKONG_TOPICS": topics.path + "-missing"], currentDirectory: "/",
            executable: nil)
        #expect(wrong == nil)
    }

    @Test func fallsBackToTheExecutableDirectory() throws {
        let topics = try CatalogFixtures.makeCatalog()
        let root = topics.deletingLastPathComponent()
        let binary = root.appendingPathComponent(".build/debug/mekong").path
        let empty = try CatalogFixtures.temporaryDirectory()
        let found = Catalog.locate(startingAt: nil, environment: [:], currentDirectory: empty.path, executable: binary)
        #expect(found?.standardizedFileURL.path == topics.standardizedFileURL.path)
        #expect(Catalog.locate(startingAt: nil, environment: [:], currentDirectory: empty.path, executable: nil) == nil)
    }

    @Test func ignoresTopicsDirectoriesWithoutTopics() throws {
        let root = try CatalogFixtures.temporaryDirectory()
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("Topics/empty"), withIntermediateDirectories: true)
        #expect(Catalog.locate(startingAt: root, environment: [:], currentDirectory: root.path, executable: nil) == nil)
    }
}
