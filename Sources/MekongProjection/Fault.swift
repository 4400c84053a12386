import MekongKafka
import MekongPostgres

/// How the engine reads an error raised while it applies a batch: an outage to wait out, the data's fault, or a
/// fault of the software that must stop the projector. No record, whatever it holds, may stop a projector: only a
/// bug or a deployment error may.
public enum Fault: Sendable, Equatable {
    /// An outage: the batch is rolled back and retried after a backoff (database or cluster unreachable, a lock
    /// or idle timeout, a serialization failure, disk full, the lease lost, another instance's checkpoint move).
    case transient
    /// May be the fault of the data: the engine isolates the record that fails alone and dead-letters it.
    case record
    /// A bug in the projection or its deployment (bad SQL, a missing table or privilege, an internal error): the
    /// projector stops.
    case software

    public init(_ error: any Error) {
        switch error {
        case let error as PostgresError:
            if error.isTransient {
                self = .transient
            } else if let state = error.sqlState, !Self.softwareClasses.contains(String(state.prefix(2))) {
                self = .record
            } else {
                self = .software
            }
        case let error as KafkaError:
            self = error.isRetriable || error.kind == .rebalance ? .transient : .software
        case is CheckpointConflict, is LeaseLost, is PartitionsChanged:
            self = .transient
        case is Refusal:
            self = .record
        default:
            self = .software
        }
    }

    /// SQLSTATE classes blamed on the software rather than the data: 08 connection (not transient ones), 0A
    /// feature not supported, 0L/0P invalid grantor/role, 25 invalid transaction state, 26 invalid statement name,
    /// 28 authorization, 2B dependent privilege descriptors, 2D invalid transaction termination, 34 invalid cursor
    /// name, 3B savepoint, 3D/3F invalid database/schema name, 42 syntax error or access rule violation, 55 object
    /// not in prerequisite state, 57 operator intervention, 58 system error, 72 snapshot failure, F0 configuration
    /// file, HV foreign data wrapper, XX internal error. Every other class (22 data exception, 23 constraint
    /// violation, 54 program limit exceeded such as an index row too large, P0 raised exceptions, 21 cardinality,
    /// 2F/38/39 routine exceptions, …) may come from the data; a PostgreSQL error without a SQLSTATE is the client's.
    static let softwareClasses: Set<String> = [
        "08", "0A", "0L", "0P", "25", "26", "28", "2B", "2D", "34", "3B", "3D", "3F", "42", "55", "57", "58", "72",
        "F0", "HV", "XX",
    ]
}
