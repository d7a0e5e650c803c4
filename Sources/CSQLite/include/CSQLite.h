#ifndef CSQLITE_H
#define CSQLITE_H

/* A thin wrapper of the system's SQLite (libsqlite3) for the store's writer. sqlite3.h itself is
   included only by CSQLite.c: SQLiteNIO's bundled copy declares the same C types, and the two
   definitions cannot meet in one Swift module. Handles are opaque; codes are SQLite's. */

#include <stdint.h>

enum {
    CSQLITE_OK = 0,
    CSQLITE_ROW = 100,
    CSQLITE_DONE = 101,
    CSQLITE_INTEGER = 1,
    CSQLITE_FLOAT = 2,
    CSQLITE_TEXT = 3,
    CSQLITE_BLOB = 4,
    CSQLITE_NULL = 5,
};

typedef struct csqlite_db csqlite_db;
typedef struct csqlite_statement csqlite_statement;

/* Opens (creating if needed) a read-write connection used by one thread at a time. */
int csqlite_open(const char *path, csqlite_db **db);
void csqlite_close(csqlite_db *db);
const char *csqlite_errmsg(csqlite_db *db);

/* A statement kept for reuse (SQLITE_PREPARE_PERSISTENT). */
int csqlite_prepare(csqlite_db *db, const char *sql, csqlite_statement **statement);
void csqlite_finalize(csqlite_statement *statement);
void csqlite_reset(csqlite_statement *statement);

/* Binds (1-based); text and blobs are copied by SQLite. */
int csqlite_bind_int64(csqlite_statement *statement, int index, int64_t value);
int csqlite_bind_double(csqlite_statement *statement, int index, double value);
int csqlite_bind_text(csqlite_statement *statement, int index, const char *text, int length);
int csqlite_bind_blob(csqlite_statement *statement, int index, const void *bytes, int length);
int csqlite_bind_null(csqlite_statement *statement, int index);

int csqlite_step(csqlite_statement *statement);
int csqlite_column_count(csqlite_statement *statement);
const char *csqlite_column_name(csqlite_statement *statement, int column);
int csqlite_column_type(csqlite_statement *statement, int column);
int64_t csqlite_column_int64(csqlite_statement *statement, int column);
double csqlite_column_double(csqlite_statement *statement, int column);
const unsigned char *csqlite_column_text(csqlite_statement *statement, int column);
const void *csqlite_column_blob(csqlite_statement *statement, int column);
int csqlite_column_bytes(csqlite_statement *statement, int column);

#endif
