import Foundation
import Logging
import MekongEvents
import MekongPostgres
import Synchronization

/// How long the engine's PostgreSQL sessions may hang before the server or a replacement gives up on them.
public struct SessionTimeouts: Sendable, Equatable {
    /// A projector that has not shown life for this long loses its lease to a standby: the server ends the lease
    /// session once it has been idle in its transaction this long (a stopped or hung process cannot heartbeat).
    public var lease: Duration = .seconds(15)
    /// `idle_in_transaction_session_timeout` of the batch session: a batch transaction left open this long by a
    /// hung process is ended by the server, which releases its checkpoint row locks.
    public var idleInTransaction: Duration = .seconds(15)
    /// `lock_timeout` of the batch session: waiting longer for a checkpoint row lock is a transient fault (retried).
    public var lock: Duration = .seconds(5)
    /// TCP keepalive idle time; a peer that stops answering is given up after about idle + 3 × interval.
    public var keepaliveIdle: Duration = .seconds(10)
    public var keepaliveInterval: Duration = .seconds(3)

    public init() {}

    /// libpq connection defaults for one of the engine's sessions (the connection string may override any of them).
    /// JIT is off: a batch's statements are planned for each batch and run for milliseconds, and compiling them
    /// (when their estimated cost passes `jit_above_cost`) took longer than running them.
    func connectionDefaults(applicationName: String, idleInTransaction: Duration) -> KeyValuePairs<String, String> {
        [
            "application_name": applicationName,
            "keepalives": "1",
            "keepalives_idle": String(max(1, keepaliveIdle.components.seconds)),
            "keepalives_interval": String(max(1, keepaliveInterval.components.seconds)),
            "keepalives_count": "3",
            "options": "-c lock_timeout=\(lock.milliseconds) -c idle_in_transaction_session_timeout=\(idleInTransaction.milliseconds) -c jit=off",
        ]
    }
}

/// The right to apply batches of one projection version in one database: at most one projector holds it; any
/// other instance is a standby that takes over when the holder stops, crashes or hangs.
///
/// This replaces Kafka consumer-group membership (ARCHITECTURE.md): the database is the deployment, so two
/// databases never share anything, and a projector restarted a second after a crash takes over at once (the
/// server ends a dead client's session, and with it the lock, as soon as its socket closes).
///
/// The lease is a transaction-level advisory lock held in an open transaction on a session of its own, whose
/// `idle_in_transaction_session_timeout` is the lease timeout. A thread renews it (one `SELECT 1`) a few times per
/// timeout, but only while the engine shows life (``tick()``): a process that is stopped, or whose engine thread
/// hangs, lets the session idle out and the server ends it, releasing the lock to a standby.
public final class ProjectorLease: Sendable {
    /// Where the lease stands, as the renewing thread last saw it.
    public enum State: Sendable, Equatable {
        /// Not yet tried.
        case starting
        /// Another session holds the lock; `holder` describes it (`application_name`) when the server says.
        case standby(holder: String?)
        case held
        /// The lease session failed (database unreachable, session ended): trying again.
        case lost(reason: String)
    }

    private let postgresURL: String?
    private let key: Int64
    private let name: String
    private let timeouts: SessionTimeouts
    private let applicationName: String
    /// ``sessionPrefix(of:)`` of the identity: every instance's sessions start with it.
    private let sessionPrefix: String
    private let logger: Logger
    private let state = Mutex<State>(.starting)
    private let lastTick = Mutex<ContinuousClock.Instant>(ContinuousClock.now)
    /// When the server last confirmed the lease session (acquired or renewed).
    private let lastRenewed = Mutex<ContinuousClock.Instant>(ContinuousClock.now)
    private let watchedBackend = Mutex<Int32>(0)
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts a thread that acquires and renews the lease until ``close()``.
    public init(
        identity: ProjectionIdentity, postgresURL: String?, timeouts: SessionTimeouts, applicationName: String,
        logger: Logger
    ) {
        self.postgresURL = postgresURL
        self.key = Self.lockKey(identity)
        self.name = identity.description
        self.timeouts = timeouts
        self.applicationName = applicationName
        self.sessionPrefix = Self.sessionPrefix(of: identity)
        self.logger = logger
        let thread = Thread { [self] in
            renew()
            finished.signal()
        }
        thread.name = "mekong-lease"
        thread.start()
    }

    /// The advisory lock key of a projection version: the first 8 bytes of SHA-256("mekong.projector:<name>:v<N>").
    static func lockKey(_ identity: ProjectionIdentity) -> Int64 {
        let digest = EventHash.sha256(Array("mekong.projector:\(identity.name):v\(identity.version)".utf8)).bytes
        return digest.prefix(8).reduce(Int64(0)) { ($0 << 8) | Int64($1) }
    }

    /// The session that holds the lease of `identity` in the connected database (its `application_name`, client
    /// address and backend pid), or nil when no projector runs.
    public static func holder(of identity: ProjectionIdentity, on db: PostgresConnection) throws -> String? {
        try holder(key: lockKey(identity), on: db)
    }

    private static func holder(key: Int64, on db: PostgresConnection) throws -> String? {
        try db.query(
            """
            SELECT a.application_name || coalesce(' at ' || host(a.client_addr), '') || ' (pid ' || a.pid || ')'
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid::bigint = (($1::bigint >> 32) & 4294967295) AND l.objid::bigint = ($1::bigint & 4294967295)
              AND l.objsubid = 1
            """, [key]
        ).first?.decode(String.self, at: 0)
    }

    /// The start of the `application_name` of every engine session of `identity`'s projection version:
    /// `mekong audit v3 ` (the instance name follows).
    public static func sessionPrefix(of identity: ProjectionIdentity) -> String {
        "mekong \(identity.name) v\(identity.version) "
    }

    /// Fencing, once this instance holds the lease: ends the sessions of other instances of this projection version
    /// in this database that are inside a transaction. A holder whose lease ran out stopped renewing it (stopped or
    /// hung); its batch session may still be open, waiting inside a `COPY` for a client that will not send, where
    /// no server timeout ends it, holding the row locks of its batch (the checkpoint rows this instance must
    /// write). Standbys are not in a transaction between their tries, so they are left alone. The transactions
    /// ended roll back; the checkpoints keep what was committed. Done on a session of its own, so that a refusal (a
    /// role that may not signal the other's backends) cannot end the lease's transaction.
    private func fence() {
        do {
            let db = try PostgresConnection(
                url: postgresURL,
                defaults: timeouts.connectionDefaults(applicationName: applicationName + " (fencing)", idleInTransaction: timeouts.lease))
            defer { db.close() }
            let ended = try db.query(
                """
                SELECT coalesce(string_agg(DISTINCT application_name, ', '), ''), count(pg_terminate_backend(pid))::int
                FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
                  AND left(application_name, length($1)) = $1 AND application_name <> $2
                  AND left(application_name, length($2) + 2) <> $2 || ' ('
                """, [sessionPrefix, applicationName])[0]
            let count = try ended.decode(Int.self, at: 1)
            let names = try ended.decode(String.self, at: 0)
            if count > 0 {
                logger.warning("\(name): ended \(count) session(s) of the instance(s) that held the lease before (\(names)), whose transactions no timeout had ended")
            }
        } catch {
            logger.warning("\(name): could not end the sessions of the instances that held the lease before: \(error)")
        }
    }

    public var current: State { state.withLock { $0 } }
    /// Held, and confirmed by the server within the lease timeout (after a hang, the lease counts as held again
    /// only once the server has answered the renewal: it may have ended the session meanwhile).
    public var isHeld: Bool {
        current == .held && ContinuousClock.now - lastRenewed.withLock({ $0 }) < timeouts.lease
    }
    private var believesHeld: Bool { current == .held }

    /// The engine is alive: called between batches and while idle. Without ticks the lease is not renewed.
    public func tick() {
        lastTick.withLock { $0 = ContinuousClock.now }
    }

    /// The server backend of the engine's batch session. While it runs a statement of ours (a large batch, or a
    /// projection deriving its tables once caught up) the engine counts as alive without ticks; a stopped or hung
    /// process leaves its backend idle, or waiting to read from the client, and the lease runs out as before.
    public func watch(backend pid: Int32) {
        watchedBackend.withLock { $0 = pid }
    }

    /// Waits until the lease is held (true) or `stop` is signalled (false); logs once per change of holder.
    public func waitUntilHeld(stop: StopSignal) -> Bool {
        var reported: State? = nil
        while !stop.isStopped {
            tick()
            if isHeld { return true }
            let now = current
            if now != reported, case .standby(let holder) = now {
                logger.info("\(name): standby; the lease is held by \(holder ?? "another session")")
                reported = now
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// Releases the lease (a standby takes over within about a second) and stops the thread.
    public func close() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }

    deinit { close() }

    // MARK: - The renewing thread

    private var renewInterval: Duration { max(.milliseconds(50), timeouts.lease / 5) }

    private func set(_ new: State) {
        let old = state.withLock { state -> State in
            let old = state
            state = new
            return old
        }
        guard old != new else { return }
        switch new {
        case .held: logger.info("\(name): lease acquired; this instance applies batches")
        case .lost(let reason): logger.warning("\(name): lease lost (\(reason)); trying again")
        case .standby, .starting: break
        }
    }

    /// Whether the watched backend is running a statement, asked on a session of its own: asking on the lease
    /// session would itself keep that session from idling out.
    private func backendIsWorking(_ observer: inout PostgresConnection?) -> Bool {
        let pid = watchedBackend.withLock { $0 }
        guard pid != 0 else { return false }
        do {
            if observer == nil {
                observer = try PostgresConnection(
                    url: postgresURL,
                    defaults: timeouts.connectionDefaults(applicationName: applicationName + " (lease observer)", idleInTransaction: timeouts.lease))
            }
            return try observer!.query(
                """
                SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'
                               AND wait_event IS DISTINCT FROM 'ClientRead')
                """, [Int(pid)])[0].decode(Bool.self, at: 0)
        } catch {
            observer?.close()
            observer = nil
            return false
        }
    }

    private func renew() {
        var db: PostgresConnection? = nil
        var observer: PostgresConnection? = nil
        defer {
            db?.close()
            observer?.close()
        }
        let clock = ContinuousClock()
        while !stopped.load(ordering: .acquiring) {
            do {
                if db == nil {
                    db = try PostgresConnection(
                        url: postgresURL,
                        defaults: timeouts.connectionDefaults(applicationName: applicationName, idleInTransaction: timeouts.lease))
                }
                let session = db!
                if believesHeld {
                    // Renew only while the engine shows life (ticks, or its batch session's backend at work on a
                    // statement); a hung engine lets the session idle out.
                    if clock.now - lastTick.withLock({ $0 }) < timeouts.lease || backendIsWorking(&observer) {
                        try session.execute("SELECT 1")
                        lastRenewed.withLock { $0 = clock.now }
                    }
                } else {
                    try session.execute("BEGIN")
                    if try session.query("SELECT pg_try_advisory_xact_lock($1)", [key])[0].decode(Bool.self, at: 0) {
                        lastRenewed.withLock { $0 = clock.now }
                        fence()
                        set(.held)
                    } else {
                        let holder = try? Self.holder(key: key, on: session)
                        try session.execute("ROLLBACK")
                        set(.standby(holder: holder ?? nil))
                    }
                }
            } catch {
                set(.lost(reason: "\(error)"))
                db?.close()
                db = nil
            }
            let until = clock.now + (believesHeld ? renewInterval : .milliseconds(500))
            while !stopped.load(ordering: .acquiring), clock.now < until {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        if believesHeld { _ = try? db?.execute("ROLLBACK") }
        state.withLock { $0 = .starting }
    }
}

extension Duration {
    var milliseconds: Int64 {
        components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000
    }
}

/// The engine's lease was lost while it ran (another instance took over after this one hung, or the lease
/// session failed): the batch in hand is abandoned and the engine waits to hold the lease again.
struct LeaseLost: Error, CustomStringConvertible {
    let state: ProjectorLease.State
    var description: String { "the projector lease is no longer held (\(state))" }
}
