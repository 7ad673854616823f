/* sqlite_faults.h: SQLite's allocator with the n-th allocation from now failing, for the tests
 * of out-of-memory paths. It holds the including test file's own state (static), so a file
 * that includes it must use it.
 *
 *   install_faulty_allocator();        // once per test: SQLite is shut down and restarted
 *   injected = 0; fail_countdown = n;  // the n-th allocation from now fails (0: none)
 *   ... ; fail_countdown = 0;          // injected says whether a failure happened */
#ifndef SILT_TEST_SQLITE_FAULTS_H
#define SILT_TEST_SQLITE_FAULTS_H

#include <criterion/criterion.h>
#include <sqlite3.h>

static sqlite3_mem_methods real_mem;
static long fail_countdown;
static int injected;

static int countdown(void) {
    if (fail_countdown > 0 && --fail_countdown == 0) {
        injected = 1;
        return 1;
    }
    return 0;
}
static void *faulty_malloc(int n) { return countdown() ? NULL : real_mem.xMalloc(n); }
static void *faulty_realloc(void *p, int n) { return countdown() ? NULL : real_mem.xRealloc(p, n); }

static void install_faulty_allocator(void) {
    cr_assert_eq(sqlite3_shutdown(), SQLITE_OK);
    cr_assert_eq(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem), SQLITE_OK);
    sqlite3_mem_methods m = real_mem;
    m.xMalloc = faulty_malloc;
    m.xRealloc = faulty_realloc;
    cr_assert_eq(sqlite3_config(SQLITE_CONFIG_MALLOC, &m), SQLITE_OK);
    cr_assert_eq(sqlite3_initialize(), SQLITE_OK);
}

#endif
