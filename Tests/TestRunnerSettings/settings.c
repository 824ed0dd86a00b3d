// How the test process runs its tests, set before Swift Testing starts.
//
// The integration tests are synchronous: they drive real processes and poll with deadlines,
// holding a thread of Swift's cooperative pool while they wait, and that pool has one thread per
// core. Swift Testing runs up to twice as many test cases at once (NCORES * 2); on a 2-core
// machine the extra two then wait for a thread while their time limits run, and fail for time
// spent queued, not working. Running as many at once as there are threads keeps every time limit
// about the test's own time. An explicit setting in the environment wins.
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include "settings.h"

__attribute__((constructor))
static void cidp_tests_limit_parallel_test_cases(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char width[32];
    snprintf(width, sizeof width, "%ld", cores > 0 ? cores : 1);
    setenv("SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH", width, 0);
}

int cidp_test_runner_settings_linked(void) { return 1; }
