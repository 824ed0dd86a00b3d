// The faulting VFS of csqlite_faults.h: every method forwards to the default ("unix") VFS and its
// files; only xOpen, xWrite and xSync count their calls and fail the configured ones.
#include <sqlite3.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "csqlite_faults.h"

typedef struct FaultFile {
    sqlite3_file base;
    sqlite3_file *real;   // the wrapped file, allocated right after this struct
} FaultFile;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static int fault_operation;
static long long fault_first, fault_count;
static int fault_error;
static char *fault_once_file;
static long long calls[3];
static long long fired;
static int disarmed;

// Whether this call of `operation` must fail. Single-threaded use per connection is SQLite's own
// rule for our workers (NOMUTEX); the counters are per process.
static int should_fail(int operation) {
    if (disarmed || operation != fault_operation) return 0;
    long long number = ++calls[operation];
    if (number < fault_first || number >= fault_first + fault_count) return 0;
    if (fired == 0 && fault_once_file != NULL) {
        int fd = open(fault_once_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) { disarmed = 1; return 0; }   // an earlier process already fired it
        close(fd);
    }
    fired++;
    return 1;
}

static int error_for(int operation) {
    if (fault_error != SQLITE_IOERR) return fault_error;
    switch (operation) {
    case CSQLITE_FAULT_WRITE: return SQLITE_IOERR_WRITE;
    case CSQLITE_FAULT_SYNC: return SQLITE_IOERR_FSYNC;
    default: return SQLITE_IOERR;
    }
}

#define REAL(file) (((FaultFile *)(file))->real)

static int fault_close(sqlite3_file *file) {
    int rc = REAL(file)->pMethods ? REAL(file)->pMethods->xClose(REAL(file)) : SQLITE_OK;
    return rc;
}
static int fault_read(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset) {
    return REAL(file)->pMethods->xRead(REAL(file), buffer, amount, offset);
}
static int fault_write(sqlite3_file *file, const void *buffer, int amount, sqlite3_int64 offset) {
    if (should_fail(CSQLITE_FAULT_WRITE)) return error_for(CSQLITE_FAULT_WRITE);
    return REAL(file)->pMethods->xWrite(REAL(file), buffer, amount, offset);
}
static int fault_truncate(sqlite3_file *file, sqlite3_int64 size) {
    return REAL(file)->pMethods->xTruncate(REAL(file), size);
}
static int fault_sync(sqlite3_file *file, int flags) {
    if (should_fail(CSQLITE_FAULT_SYNC)) return error_for(CSQLITE_FAULT_SYNC);
    return REAL(file)->pMethods->xSync(REAL(file), flags);
}
static int fault_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    return REAL(file)->pMethods->xFileSize(REAL(file), size);
}
static int fault_lock(sqlite3_file *file, int lock) { return REAL(file)->pMethods->xLock(REAL(file), lock); }
static int fault_unlock(sqlite3_file *file, int lock) { return REAL(file)->pMethods->xUnlock(REAL(file), lock); }
static int fault_check_reserved_lock(sqlite3_file *file, int *out) {
    return REAL(file)->pMethods->xCheckReservedLock(REAL(file), out);
}
static int fault_file_control(sqlite3_file *file, int op, void *arg) {
    return REAL(file)->pMethods->xFileControl(REAL(file), op, arg);
}
static int fault_sector_size(sqlite3_file *file) { return REAL(file)->pMethods->xSectorSize(REAL(file)); }
static int fault_device_characteristics(sqlite3_file *file) {
    return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file));
}
static int fault_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **out) {
    return REAL(file)->pMethods->xShmMap(REAL(file), region, size, extend, out);
}
static int fault_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
    return REAL(file)->pMethods->xShmLock(REAL(file), offset, n, flags);
}
static void fault_shm_barrier(sqlite3_file *file) { REAL(file)->pMethods->xShmBarrier(REAL(file)); }
static int fault_shm_unmap(sqlite3_file *file, int delete_flag) {
    return REAL(file)->pMethods->xShmUnmap(REAL(file), delete_flag);
}
static int fault_fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out) {
    return REAL(file)->pMethods->xFetch(REAL(file), offset, amount, out);
}
static int fault_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *page) {
    return REAL(file)->pMethods->xUnfetch(REAL(file), offset, page);
}

static const sqlite3_io_methods fault_methods = {
    3, fault_close, fault_read, fault_write, fault_truncate, fault_sync, fault_file_size, fault_lock,
    fault_unlock, fault_check_reserved_lock, fault_file_control, fault_sector_size,
    fault_device_characteristics, fault_shm_map, fault_shm_lock, fault_shm_barrier, fault_shm_unmap,
    fault_fetch, fault_unfetch,
};

static int fault_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    FaultFile *wrapper = (FaultFile *)file;
    wrapper->base.pMethods = NULL;
    wrapper->real = (sqlite3_file *)&wrapper[1];
    if (should_fail(CSQLITE_FAULT_OPEN)) return error_for(CSQLITE_FAULT_OPEN);
    int rc = real_vfs->xOpen(real_vfs, name, wrapper->real, flags, out_flags);
    // A file the real VFS opened (even on failure it may have methods to close) is closed through us.
    if (wrapper->real->pMethods != NULL) wrapper->base.pMethods = &fault_methods;
    return rc;
}

// The rest forwards to the real VFS, as itself.
static int fault_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
    (void)vfs; return real_vfs->xDelete(real_vfs, name, sync_dir);
}
static int fault_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs; return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int fault_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
    (void)vfs; return real_vfs->xFullPathname(real_vfs, name, size, out);
}
static void *fault_dl_open(sqlite3_vfs *vfs, const char *name) { (void)vfs; return real_vfs->xDlOpen(real_vfs, name); }
static void fault_dl_error(sqlite3_vfs *vfs, int size, char *out) { (void)vfs; real_vfs->xDlError(real_vfs, size, out); }
static void (*fault_dl_sym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
    (void)vfs; return real_vfs->xDlSym(real_vfs, handle, symbol);
}
static void fault_dl_close(sqlite3_vfs *vfs, void *handle) { (void)vfs; real_vfs->xDlClose(real_vfs, handle); }
static int fault_randomness(sqlite3_vfs *vfs, int size, char *out) { (void)vfs; return real_vfs->xRandomness(real_vfs, size, out); }
static int fault_sleep(sqlite3_vfs *vfs, int microseconds) { (void)vfs; return real_vfs->xSleep(real_vfs, microseconds); }
static int fault_current_time(sqlite3_vfs *vfs, double *out) { (void)vfs; return real_vfs->xCurrentTime(real_vfs, out); }
static int fault_get_last_error(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs; return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, size, out) : 0;
}
static int fault_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs; return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

int csqlite_faults_install(int operation, long long first, long long count, int error, const char *once_file) {
    if (real_vfs != NULL) return SQLITE_MISUSE;
    real_vfs = sqlite3_vfs_find(NULL);
    if (real_vfs == NULL || real_vfs->iVersion < 2) return SQLITE_ERROR;
    fault_operation = operation;
    fault_first = first;
    fault_count = count;
    fault_error = error;
    fault_once_file = once_file ? strdup(once_file) : NULL;
    memset(&fault_vfs, 0, sizeof fault_vfs);
    fault_vfs.iVersion = 2;
    fault_vfs.szOsFile = (int)sizeof(FaultFile) + real_vfs->szOsFile;
    fault_vfs.mxPathname = real_vfs->mxPathname;
    fault_vfs.zName = "cidp-faults";
    fault_vfs.xOpen = fault_open;
    fault_vfs.xDelete = fault_delete;
    fault_vfs.xAccess = fault_access;
    fault_vfs.xFullPathname = fault_full_pathname;
    fault_vfs.xDlOpen = fault_dl_open;
    fault_vfs.xDlError = fault_dl_error;
    fault_vfs.xDlSym = fault_dl_sym;
    fault_vfs.xDlClose = fault_dl_close;
    fault_vfs.xRandomness = fault_randomness;
    fault_vfs.xSleep = fault_sleep;
    fault_vfs.xCurrentTime = fault_current_time;
    fault_vfs.xGetLastError = fault_get_last_error;
    fault_vfs.xCurrentTimeInt64 = fault_current_time_int64;
    return sqlite3_vfs_register(&fault_vfs, 1);
}

long long csqlite_faults_fired(void) { return fired; }
