#ifndef CIDP_TEST_RUNNER_SETTINGS_H
#define CIDP_TEST_RUNNER_SETTINGS_H
/// Referenced by a test target so that the linker keeps this object (and its constructor).
int cidp_test_runner_settings_linked(void);
#endif
