import ArgumentParser

@main
struct Mekong: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mekong",
        abstract: "Mekong: the event-sourced ingestion backbone of the National Statistical Database.",
        discussion: """
            With no --kafka, --postgres or configuration file, commands use the cluster started by `mekong dev` and \
            the local development database that ops/setup.sh created.
            """,
        subcommands: [
            DevCommand.self, TopicsCommand.self, PublishCommand.self, TailCommand.self, ProjectCommand.self,
            ProjectionCommand.self, DeadLetterCommand.self, SchemasCommand.self, AuditCommand.self, QueryCommand.self,
            DemoCommand.self, GatewayCommand.self, SourcesCommand.self, KeysCommand.self, SignCommand.self,
            ReceiptCommand.self, ReconcileCommand.self, ServeCommand.self, ReadersCommand.self, ArchiveCommand.self, ConsoleCommand.self,
        ])
}
