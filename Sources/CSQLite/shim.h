#include <sqlite3.h>

/* sqlite3_config is variadic, which Swift cannot call: one typed inline per option used. */

/* Turns off SQLite's memory statistics: without them no global mutex is taken on every
   allocation (about 8 % of the loader's insert time). Must run before SQLite initializes;
   returns SQLITE_MISUSE after. */
static inline int csqlite_config_memstatus_off(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
