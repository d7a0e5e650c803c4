#include "CSQLite.h"

#include <stddef.h>
#include <sqlite3.h>

#define DB(db) ((sqlite3 *)(db))
#define STMT(statement) ((sqlite3_stmt *)(statement))

int csqlite_open(const char *path, csqlite_db **db) {
    sqlite3 *handle = NULL;
    int status = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    *db = (csqlite_db *)handle;
    return status;
}

void csqlite_close(csqlite_db *db) { sqlite3_close_v2(DB(db)); }

const char *csqlite_errmsg(csqlite_db *db) { return sqlite3_errmsg(DB(db)); }

int csqlite_prepare(csqlite_db *db, const char *sql, csqlite_statement **statement) {
    sqlite3_stmt *prepared = NULL;
    int status = sqlite3_prepare_v3(DB(db), sql, -1, SQLITE_PREPARE_PERSISTENT, &prepared, NULL);
    *statement = (csqlite_statement *)prepared;
    return status;
}

void csqlite_finalize(csqlite_statement *statement) { sqlite3_finalize(STMT(statement)); }

void csqlite_reset(csqlite_statement *statement) {
    sqlite3_reset(STMT(statement));
    sqlite3_clear_bindings(STMT(statement));
}

int csqlite_bind_int64(csqlite_statement *statement, int index, int64_t value) {
    return sqlite3_bind_int64(STMT(statement), index, value);
}

int csqlite_bind_double(csqlite_statement *statement, int index, double value) {
    return sqlite3_bind_double(STMT(statement), index, value);
}

int csqlite_bind_text(csqlite_statement *statement, int index, const char *text, int length) {
    return sqlite3_bind_text(STMT(statement), index, text, length, SQLITE_TRANSIENT);
}

int csqlite_bind_blob(csqlite_statement *statement, int index, const void *bytes, int length) {
    return sqlite3_bind_blob(STMT(statement), index, bytes, length, SQLITE_TRANSIENT);
}

int csqlite_bind_null(csqlite_statement *statement, int index) { return sqlite3_bind_null(STMT(statement), index); }

int csqlite_step(csqlite_statement *statement) { return sqlite3_step(STMT(statement)); }

int csqlite_column_count(csqlite_statement *statement) { return sqlite3_column_count(STMT(statement)); }

const char *csqlite_column_name(csqlite_statement *statement, int column) {
    return sqlite3_column_name(STMT(statement), column);
}

int csqlite_column_type(csqlite_statement *statement, int column) { return sqlite3_column_type(STMT(statement), column); }

int64_t csqlite_column_int64(csqlite_statement *statement, int column) {
    return sqlite3_column_int64(STMT(statement), column);
}

double csqlite_column_double(csqlite_statement *statement, int column) {
    return sqlite3_column_double(STMT(statement), column);
}

const unsigned char *csqlite_column_text(csqlite_statement *statement, int column) {
    return sqlite3_column_text(STMT(statement), column);
}

const void *csqlite_column_blob(csqlite_statement *statement, int column) {
    return sqlite3_column_blob(STMT(statement), column);
}

int csqlite_column_bytes(csqlite_statement *statement, int column) { return sqlite3_column_bytes(STMT(statement), column); }
