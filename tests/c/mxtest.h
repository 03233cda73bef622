/* mxtest.h - a tiny assertion harness for the core's C unit tests.
 *
 *   static void test_something(void) { MXT_NEAR(f(2.0), 4.0, 1e-12); }
 *   int main(void) { MXT_RUN(test_something); return mxt_summary(); }
 *
 * Each failed check prints file:line and the values; mxt_summary() prints
 * the closing line "N passed, N failed" and returns the exit status.
 * mxt_skip("reason") ends the whole program with status 77 (ctest: skipped).
 */
#ifndef MXTEST_H
#define MXTEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mopex/mopex.h"

static int mxt_passed = 0, mxt_failed = 0, mxt_case_failed = 0;
static const char *mxt_current = "";

#define MXT_CHECK(cond, ...)                                                           \
    do {                                                                               \
        if (cond) { mxt_passed++; }                                                    \
        else {                                                                         \
            mxt_failed++; mxt_case_failed = 1;                                         \
            fprintf(stderr, "FAIL %s (%s:%d): %s: ", mxt_current, __FILE__, __LINE__,  \
                    #cond);                                                            \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
        }                                                                              \
    } while (0)

#define MXT_TRUE(cond) MXT_CHECK(cond, "expected true")
#define MXT_NEAR(a, b, tol)                                                            \
    do {                                                                               \
        double mxt_a_ = (double)(a), mxt_b_ = (double)(b), mxt_t_ = (double)(tol);     \
        MXT_CHECK(fabs(mxt_a_ - mxt_b_) <= mxt_t_ || (isnan(mxt_a_) && isnan(mxt_b_)), \
                  "%.17g vs %.17g (diff %.3g > tol %.3g)", mxt_a_, mxt_b_,             \
                  fabs(mxt_a_ - mxt_b_), mxt_t_);                                      \
    } while (0)
#define MXT_EQ_INT(a, b)                                                               \
    do {                                                                               \
        long long mxt_a_ = (long long)(a), mxt_b_ = (long long)(b);                    \
        MXT_CHECK(mxt_a_ == mxt_b_, "%lld vs %lld", mxt_a_, mxt_b_);                   \
    } while (0)
#define MXT_EQ_STR(a, b)                                                               \
    do {                                                                               \
        const char *mxt_a_ = (a), *mxt_b_ = (b);                                       \
        MXT_CHECK(mxt_a_ && mxt_b_ && strcmp(mxt_a_, mxt_b_) == 0, "'%s' vs '%s'",     \
                  mxt_a_ ? mxt_a_ : "(null)", mxt_b_ ? mxt_b_ : "(null)");             \
    } while (0)
/* A call that must succeed; prints mx_errmsg() if it does not. */
#define MXT_OK(call)                                                                   \
    do {                                                                               \
        int mxt_st_ = (call);                                                          \
        MXT_CHECK(mxt_st_ == MX_OK, "status %d (%s): %s", mxt_st_,                     \
                  mx_status_name(mxt_st_), mx_errmsg());                               \
    } while (0)
/* A call that must fail with `code` and a message containing `substr`. */
#define MXT_FAILS(call, code, substr)                                                  \
    do {                                                                               \
        int mxt_st_ = (call);                                                          \
        MXT_CHECK(mxt_st_ == (code) && strstr(mx_errmsg(), (substr)) != NULL,          \
                  "status %d (want %d), message '%s' (want '%s')", mxt_st_, (code),    \
                  mx_errmsg(), (substr));                                              \
    } while (0)

#define MXT_RUN(fn)                                                                    \
    do {                                                                               \
        mxt_current = #fn; mxt_case_failed = 0;                                        \
        fn();                                                                          \
        fprintf(stderr, "%s %s\n", mxt_case_failed ? "not ok" : "ok  ", #fn);          \
    } while (0)

static inline int mxt_summary(void) {
    printf("%d passed, %d failed\n", mxt_passed, mxt_failed);
    return mxt_failed ? 1 : 0;
}

static inline void mxt_skip(const char *why) {
    printf("SKIPPED: %s\n0 passed, 0 failed\n", why);
    exit(77);
}

/* ../shared/data (or $MOPEX_TEST_DATA); NULL if absent. */
static inline const char *mxt_data_dir(void) {
    const char *d = getenv("MOPEX_TEST_DATA");
    return (d && *d) ? d : NULL;
}
/* A scratch directory for this test ($MOPEX_TEST_TMP/<name>), created. */
static inline const char *mxt_tmp_dir(const char *name) {
    static char buf[4096];
    const char *base = getenv("MOPEX_TEST_TMP");
    snprintf(buf, sizeof buf, "%s/%s", base && *base ? base : "/tmp/mopex-test", name);
    mx_mkdir_p(buf);
    return buf;
}
#endif
