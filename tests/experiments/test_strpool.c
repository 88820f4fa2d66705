/* test_strpool.c — the string pool that holds a dataset's item strings (exp_strpool) and the
 * item's SHA-256 as hex: many strings across 64 kB blocks keep their bytes, a string longer
 * than a block gets a block of its own, max cuts a string (the SOP UID, laterality and view
 * an item keeps), the empty string is a string, a string that fits a block's room only without
 * its NUL goes to the next block, and free leaves a pool that can be used again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/data/dataset.h"
#include "../wb_test.h"

enum { N = 20000 };

int main(void)
{
    exp_strpool p = {0};
    static const char *got[N];
    char want[64];
    /* ~16 bytes each: 320 kB, five blocks or more */
    for (int i = 0; i < N; i++) {
        snprintf(want, sizeof want, "P%05d/L_CC.dcm", i);
        got[i] = exp_strpool_add(&p, want, (size_t)-1);
        CHECK(got[i] != NULL, "string %d", i);
    }
    int bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(want, sizeof want, "P%05d/L_CC.dcm", i);
        bad += got[i] == NULL || strcmp(got[i], want) != 0;
    }
    CHECK_EQ_INT(bad, 0, "strings changed after later ones were added");
    /* longer than a block: its own block, and the strings after it still fit */
    size_t big_n = 200000;
    char *big = malloc(big_n + 1);
    memset(big, 'x', big_n);
    big[big_n] = '\0';
    big[big_n / 2] = 'y';
    const char *b = exp_strpool_add(&p, big, (size_t)-1);
    const char *after = exp_strpool_add(&p, "after", (size_t)-1);
    CHECK(b && strlen(b) == big_n && memcmp(b, big, big_n + 1) == 0, "a string longer than a block");
    CHECK(after && !strcmp(after, "after"), "a string after the long one");
    CHECK(got[0] && !strcmp(got[0], "P00000/L_CC.dcm"), "the first string after the long one");
    /* cut at max, as the items' UID, laterality and view always were */
    const char *uid = exp_strpool_add(&p, "1.2.840.10008.5.1.4.1.1.1.2.12345678901234567890123456789012345678901234567890123456789",
                                      EXP_ITEM_UID_MAX);
    CHECK(uid && strlen(uid) == EXP_ITEM_UID_MAX && !strncmp(uid, "1.2.840.10008.5.1.4.1.1.1.2.1234", 32), "UID cut to %d",
          EXP_ITEM_UID_MAX);
    const char *lat = exp_strpool_add(&p, "LEFT_BREAST", EXP_ITEM_LATERALITY_MAX);
    CHECK_STR(lat ? lat : "(null)", "LEFT_BR", "laterality cut");
    const char *e = exp_strpool_add(&p, "", (size_t)-1);
    CHECK(e && e[0] == '\0', "the empty string");
    exp_strpool_free(&p);
    CHECK(p.last == NULL, "free empties the pool");
    /* a string that fits a block's room but not with its NUL goes to the next block (the ASan
     * build sees a byte written past the block otherwise): 65525 bytes + NUL leave 10 */
    char *fill = malloc(65526), ten[] = "0123456789";
    memset(fill, 'f', 65525);
    fill[65525] = '\0';
    const char *f1 = exp_strpool_add(&p, fill, (size_t)-1), *t1 = exp_strpool_add(&p, ten, (size_t)-1);
    const char *t2 = exp_strpool_add(&p, ten, (size_t)-1);
    CHECK(f1 && strlen(f1) == 65525 && t1 && !strcmp(t1, ten) && t2 && !strcmp(t2, ten), "a string at a block's end");
    exp_strpool_free(&p);
    free(fill);
    const char *again = exp_strpool_add(&p, "again", 3);
    CHECK_STR(again ? again : "(null)", "aga", "a freed pool used again");
    exp_strpool_free(&p);
    exp_strpool_free(&p); /* a freed pool frees nothing */
    free(big);

    exp_item it = {0};
    for (int i = 0; i < 32; i++) it.sha256[i] = (uint8_t)(i * 17 + 3);
    char hex[65];
    exp_item_sha256_hex(&it, hex);
    CHECK_STR(hex, "031425364758697a8b9cadbecfe0f102132435465768798a9bacbdcedff00112", "sha256 hex");
    return wb_test_finish("strpool");
}
