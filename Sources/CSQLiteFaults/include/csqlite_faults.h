#ifndef CSQLITE_FAULTS_H
#define CSQLITE_FAULTS_H

/* A test VFS, as SQLite's own test suite injects faults: it wraps the default VFS and makes the
   N-th open, write or sync of this process fail with SQLITE_FULL, SQLITE_IOERR or SQLITE_BUSY,
   for `count` calls in a row, then lets them through again. Installed only when a test asks for
   it (CIDP_FAULT_VFS, read by Workers' `SQLiteFaults`); never registered otherwise. */

/* Which call fails. */
enum csqlite_fault_operation { CSQLITE_FAULT_OPEN = 0, CSQLITE_FAULT_WRITE = 1, CSQLITE_FAULT_SYNC = 2 };

/* Registers the faulting VFS as the default: calls of `operation` number `first` (1-based, counted
   across every file of the process) through `first + count - 1` return `error` (an SQLite result
   code: SQLITE_FULL, SQLITE_IOERR or SQLITE_BUSY; an I/O error is reported with the matching
   extended code). `once_file`, if not NULL, is created (O_EXCL) when the first fault fires, and
   if it already exists nothing fails: a restarted process is not faulted again.
   Returns SQLITE_OK, or an error code when SQLite has no default VFS to wrap. Call before the
   first connection is opened. */
int csqlite_faults_install(int operation, long long first, long long count, int error, const char *once_file);

/* How many faults fired so far in this process. */
long long csqlite_faults_fired(void);

#endif
