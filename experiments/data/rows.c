/* rows.c — data.filter and the sides of cv.split_column. See rows.h. */
#include "experiments/data/rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The column called name, or -1 with a config error at the key's place in the config file
 * (the CSV's header named in the message). */
static long config_column(const exp_config *cfg, const io_csv *csv, const char *name, const char *key, int line,
                          int col, wb_error *err)
{
    wb_error e;
    wb_error_clear(&e);
    long c = io_csv_column(csv, name, &e);
    if (c >= 0) return c;
    const char *file;
    int l, k;
    exp_config_where(cfg, key, &file, &l, &k);
    if (line) l = line, k = col;
    return wb_err_at(err, WB_E_CONFIG, file, l, k, key, "%s: %s", csv->path, e.msg);
}

static int in_list(const char *v, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, list[i])) return 1;
    return 0;
}

int exp_named_row_cmp(const void *a, const void *b)
{
    const exp_named_row *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* Patients with kept rows on both sides: refused (the first such patient's first train and
 * test lines named), or their training rows dropped. */
static int check_overlap(const exp_config *cfg, const io_csv *csv, long c_group, unsigned char *keep,
                         const unsigned char *test, exp_rows_report *rep, wb_error *err)
{
    const exp_settings *s = exp_config_get(cfg);
    size_t n = 0;
    for (size_t r = 0; r < csv->n_rows; r++) n += keep[r];
    exp_named_row *k = malloc((n ? n : 1) * sizeof *k);
    if (!k) return wb_err(err, WB_E_NOMEM, csv->path, "out of memory for %zu rows", n);
    n = 0;
    for (size_t r = 0; r < csv->n_rows; r++)
        if (keep[r]) k[n++] = (exp_named_row){io_csv_cell(csv, r, c_group), r};
    qsort(k, n, sizeof *k, exp_named_row_cmp);
    int first_tr = 0, first_te = 0;
    for (size_t a = 0, b; a < n; a = b) {
        size_t tr = SIZE_MAX, te = SIZE_MAX;
        for (b = a; b < n && !strcmp(k[b].name, k[a].name); b++) {
            if (test[k[b].row] && te == SIZE_MAX) te = k[b].row;
            if (!test[k[b].row] && tr == SIZE_MAX) tr = k[b].row;
        }
        if (tr == SIZE_MAX || te == SIZE_MAX) continue;
        if (rep->overlap_patients++ == 0 || csv->lines[tr] < first_tr) {
            first_tr = csv->lines[tr];
            first_te = csv->lines[te];
        }
        if (s->cv.split_overlap == EXP_SPLIT_OVERLAP_DROP_TRAIN)
            for (size_t q = a; q < b; q++)
                if (!test[k[q].row]) {
                    keep[k[q].row] = 0;
                    rep->overlap_dropped++;
                }
    }
    free(k);
    if (rep->overlap_patients && s->cv.split_overlap == EXP_SPLIT_OVERLAP_REFUSE)
        return wb_err_at(err, WB_E_DATA, csv->path, first_te, 0, NULL,
                         "cv.split_column '%s': %zu patient%s %s rows in both train and test (e.g. line %d, train, and "
                         "line %d, test, have the same %s): a fixed split must keep each patient on one side, or the "
                         "test rows are not held out; correct the split, or set cv.split_overlap: drop_train to leave "
                         "out those patients' training rows",
                         s->cv.split_column, rep->overlap_patients, rep->overlap_patients > 1 ? "s" : "",
                         rep->overlap_patients > 1 ? "have" : "has", first_tr, first_te, s->data.group_column);
    return 0;
}

int exp_rows_select(const exp_config *cfg, io_csv *csv, exp_rows_report *rep, unsigned char **test, wb_error *err)
{
    const exp_settings *s = exp_config_get(cfg);
    const exp_settings_data *d = &s->data;
    memset(rep, 0, sizeof *rep);
    if (test) *test = NULL;
    rep->rows = csv->n_rows;
    rep->n_filters = d->n_filters;
    rep->split = s->cv.split_column[0] != '\0';
    if (!d->n_filters && !rep->split) {
        rep->kept = csv->n_rows;
        return 0;
    }
    long fc[EXP_CONFIG_MAX_FILTERS], c_split = -1, c_group = -1;
    for (size_t k = 0; k < d->n_filters; k++)
        if ((fc[k] = config_column(cfg, csv, d->filters[k].column, "data.filter", d->filters[k].line, d->filters[k].col,
                                   err)) < 0)
            return -1;
    if (rep->split) {
        if ((c_split = config_column(cfg, csv, s->cv.split_column, "cv.split_column", 0, 0, err)) < 0) return -1;
        if ((c_group = io_csv_column(csv, d->group_column, err)) < 0) return -1;
    }
    const size_t nr = csv->n_rows;
    unsigned char *keep = malloc(nr ? nr : 1), *side = rep->split ? malloc(nr ? nr : 1) : NULL;
    if (!keep || (rep->split && !side)) {
        free(keep);
        free(side);
        return wb_err(err, WB_E_NOMEM, csv->path, "out of memory for %zu rows", nr);
    }
    for (size_t r = 0; r < nr; r++) {
        keep[r] = 1;
        for (size_t k = 0; k < d->n_filters && keep[r]; k++)
            if (!in_list(io_csv_cell(csv, r, fc[k]), d->filters[k].values, d->filters[k].n_values)) {
                keep[r] = 0;
                rep->dropped[k]++;
            }
        if (!keep[r] || !rep->split) continue;
        const char *v = io_csv_cell(csv, r, c_split);
        if (in_list(v, s->cv.split_test, s->cv.n_split_test)) side[r] = 1;
        else if (in_list(v, s->cv.split_train, s->cv.n_split_train)) side[r] = 0;
        else {
            keep[r] = 0;
            rep->split_other++;
        }
    }
    int rc = rep->split ? check_overlap(cfg, csv, c_group, keep, side, rep, err) : 0;
    /* compact: the kept rows, in order, with their source lines */
    size_t w = 0;
    for (size_t r = 0; rc == 0 && r < nr; r++) {
        if (!keep[r]) continue;
        if (w != r) {
            memmove(csv->cells + w * csv->n_cols, csv->cells + r * csv->n_cols, csv->n_cols * sizeof *csv->cells);
            csv->lines[w] = csv->lines[r];
            if (side) side[w] = side[r];
        }
        if (side) {
            rep->test_rows += side[w];
            rep->train_rows += !side[w];
        }
        w++;
    }
    if (rc == 0) {
        csv->n_rows = rep->kept = w;
        char what[512];
        exp_rows_describe(cfg, rep, what, sizeof what);
        if (w == 0)
            rc = wb_err(err, WB_E_DATA, csv->path, "no row is left: %s", what);
        else if (rep->split && (rep->test_rows == 0 || rep->train_rows == 0))
            rc = wb_err(err, WB_E_DATA, csv->path, "no %s row: %s; cv.split_%s lists the values of that side",
                        rep->test_rows ? "training" : "test", what, rep->test_rows ? "train" : "test");
    }
    free(keep);
    if (rc == 0 && test) *test = side;
    else free(side);
    return rc;
}

void exp_rows_describe(const exp_config *cfg, const exp_rows_report *rep, char *buf, size_t n)
{
    const exp_settings *s = exp_config_get(cfg);
    size_t l = 0;
    buf[0] = '\0';
#define PUT(...) (l += (size_t)snprintf(buf + l, l < n ? n - l : 0, __VA_ARGS__), l = l < n ? l : n)
    if (rep->n_filters) {
        size_t after = rep->rows;
        for (size_t k = 0; k < rep->n_filters; k++) after -= rep->dropped[k];
        PUT("data.filter kept %zu of %zu rows (", after, rep->rows);
        for (size_t k = 0; k < rep->n_filters && k < s->data.n_filters; k++)
            PUT("%s%s: %zu left out", k ? ", " : "", s->data.filters[k].column, rep->dropped[k]);
        PUT(")");
    }
    if (rep->split) {
        PUT("%sfixed split (cv.split_column %s): %zu train rows, %zu test rows", l ? "; " : "", s->cv.split_column,
            rep->train_rows, rep->test_rows);
        if (rep->split_other) PUT(", %zu rows with another split value left out", rep->split_other);
        if (rep->overlap_dropped)
            PUT(", %zu training rows of %zu patient(s) also in test left out (cv.split_overlap: drop_train)",
                rep->overlap_dropped, rep->overlap_patients);
    }
#undef PUT
}
