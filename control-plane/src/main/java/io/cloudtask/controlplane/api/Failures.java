package io.cloudtask.controlplane.api;

import io.micronaut.data.connection.exceptions.ConnectionException;
import java.net.ConnectException;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientConnectionException;

/**
 * Classifies any exception as the failure a caller should see. The REST handler
 * ({@link RestErrorHandler}) and the gRPC mapper ({@link GrpcErrors}) both start here, so the
 * two surfaces never disagree.
 */
public final class Failures {
    private Failures() {}

    public static ApiException classify(Throwable exception) {
        for (Throwable t = exception; t != null; t = t.getCause()) {
            if (t instanceof ApiException api) {
                return api;
            }
            if (isConnectionFailure(t)) {
                return new ApiException(ErrorKind.UNAVAILABLE, null,
                        "the database is unavailable; retry shortly, and if this persists check the"
                                + " database server and the control plane's datasource settings", t);
            }
            if (t instanceof SQLException sql && "57P01".equals(sql.getSQLState())) {
                return new ApiException(ErrorKind.UNAVAILABLE, null, "the database is shutting down; retry shortly", t);
            }
        }
        return new ApiException(ErrorKind.INTERNAL, null, "internal error; the control plane logged the details", exception);
    }

    /** The database (or the pool's connection to it) is gone, as opposed to a bad statement. */
    private static boolean isConnectionFailure(Throwable t) {
        if (t instanceof SQLTransientConnectionException || t instanceof SQLNonTransientConnectionException
                || t instanceof SQLRecoverableException || t instanceof ConnectException
                || t instanceof ConnectionException) {
            return true;
        }
        return t instanceof SQLException sql && sql.getSQLState() != null && sql.getSQLState().startsWith("08");
    }
}
