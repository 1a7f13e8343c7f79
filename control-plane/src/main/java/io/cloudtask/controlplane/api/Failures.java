package io.cloudtask.controlplane.api;

import java.net.ConnectException;
import java.sql.SQLException;
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
            if (t instanceof SQLTransientConnectionException || t instanceof ConnectException
                    || (t instanceof SQLException sql && sql.getSQLState() != null
                            && sql.getSQLState().startsWith("08"))) {
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
}
