/* rows.h — which rows of the labels CSV an experiment uses: the row filters (data.filter) and
 * the sides of a fixed train/test split (cv.split_column).
 *
 *     // given: const exp_config *cfg; io_csv csv;  // csv as io_csv_read gives it
 *     exp_rows_report rep;
 *     unsigned char *test = NULL;                    // per kept row: 1 test, 0 train (split only)
 *     if (exp_rows_select(cfg, &csv, &rep, &test, &err) != 0) ...;  // exit 2 (a column the CSV
 *     // lacks: the config's file:line:col) or 3 (a patient on both sides, no test rows, ...)
 *     char line[512];
 *     exp_rows_describe(cfg, &rep, line, sizeof line);   // "data.filter kept 80 of 96 rows ..."
 *     free(test);
 *
 * The CSV is compacted in place: the rows left out are gone, csv.lines keeps the source line
 * of every row left, so loaders and their messages work on the kept rows as on a whole file.
 */
#ifndef EXP_ROWS_H
#define EXP_ROWS_H

#include <stddef.h>

#include "experiments/config/config.h"
#include "io/io_csv.h"
#include "base/wb_error.h"

typedef struct exp_rows_report {
    size_t rows;         /* data rows of the labels CSV */
    size_t kept;         /* rows left after the filters and the split */
    size_t n_filters;    /* data.filter's columns */
    size_t dropped[EXP_CONFIG_MAX_FILTERS]; /* rows left out by filter k (the first filter, in the
                                             * config's order, whose column a row does not match) */
    int split;           /* cv.split_column is set */
    size_t split_other;  /* rows whose split value is neither a train nor a test value (left out) */
    size_t overlap_patients;   /* patients with kept rows on both sides (cv.split_overlap) */
    size_t overlap_dropped;    /* their training rows, left out under split_overlap: drop_train */
    size_t train_rows, test_rows;
} exp_rows_report;

/* Applies data.filter, then cv.split_column, to csv (in place; see above). With a split,
 * *test (malloc'd, one byte per kept row; the caller frees it) says which rows are test rows;
 * without one *test is NULL (test may be NULL then). Errors: a filter or split column that
 * the CSV lacks (WB_E_CONFIG at the config file's line and column of that key), a patient
 * with rows on both sides under cv.split_overlap: refuse (WB_E_DATA naming the labels file
 * and both lines, not the patient id), no row left, or (with a split) no train or no test
 * row (WB_E_DATA). Linear in the cells, O(n log n) in the rows for the patient check. */
int exp_rows_select(const exp_config *cfg, io_csv *csv, exp_rows_report *rep, unsigned char **test, wb_error *err);

/* One line for the log and the report: "data.filter kept K of N rows (view: D1 left out, ...)"
 * and/or "fixed split (cv.split_column split): T train rows, U test rows, ...". "" when there
 * is neither a filter nor a split. */
void exp_rows_describe(const exp_config *cfg, const exp_rows_report *rep, char *buf, size_t n);

/* A name (a file, a patient, a duplicate key) and the row or item it came from; qsort with
 * exp_named_row_cmp orders by name, then row, so the first of a run of equal names is its
 * earliest row:
 *     qsort(k, n, sizeof *k, exp_named_row_cmp);
 */
typedef struct exp_named_row {
    const char *name;
    size_t row;
} exp_named_row;
int exp_named_row_cmp(const void *a, const void *b);

#endif
