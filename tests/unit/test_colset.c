/* test_colset.c: value hashes, exact overlap and DeepJoin column text (index/colset). */
#include "index/colset.h"
#include "testutil.h"

Test(colset, overlap_is_exact_on_sorted_unique_sets) {
    int64_t a[] = {5, 1, 3, 3, 9, 1}, b[] = {3, 4, 5, 6, 5};
    size_t na = silt_colset_unique(a, 6), nb = silt_colset_unique(b, 5);
    cr_assert_eq(na, 4);
    cr_assert_eq(nb, 4);
    cr_assert_eq(a[0], 1);
    cr_assert_eq(a[3], 9);
    cr_assert_eq(silt_colset_overlap(a, na, b, nb), 2);
    cr_assert_eq(silt_colset_overlap(a, na, b, 0), 0);
    cr_assert_eq(silt_colset_unique(a, 0), 0);
}

Test(colset, hash_separates_values_and_is_stable) {
    cr_assert_neq(silt_colset_hash("alice", 5), silt_colset_hash("alicf", 5));
    cr_assert_neq(silt_colset_hash("ab", 2), silt_colset_hash("ba", 2));
    cr_assert_neq(silt_colset_hash("", 0), silt_colset_hash("a", 1));
    cr_assert_eq(silt_colset_hash("alice", 5), silt_colset_hash("alice!", 5));
    /* 20,000 distinct short strings: no collision. */
    int64_t *h = malloc(20000 * sizeof *h);
    char buf[16];
    for (int i = 0; i < 20000; i++) h[i] = silt_colset_hash(buf, (size_t)sprintf(buf, "%d", i));
    cr_assert_eq(silt_colset_unique(h, 20000), 20000);
    free(h);
}

Test(colset, deepjoin_text_format_and_budget) {
    const char *vals[] = {"alice", "bob", "carol"};
    size_t lens[] = {5, 3, 5};
    char *t = silt_colset_text("orders", "customer", vals, lens, 3, 1000);
    cr_assert_str_eq(t, "orders. customer contains 3 values (5, 3, 4.3): alice, bob, carol");
    free(t);
    t = silt_colset_text("orders", "customer", vals, lens, 3, 12);
    cr_assert_str_eq(t, "orders. customer contains 3 values (5, 3, 4.3): alice, bob");
    free(t);
    t = silt_colset_text("t", "c", NULL, NULL, 0, 100);
    cr_assert_str_eq(t, "t. c contains 0 values (0, 0, 0.0):");
    free(t);
}
