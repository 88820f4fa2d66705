/* test_registry.c — the SQLite run registry: a run recorded and finished with the pooled
 * metrics of a real metrics.json (values exact), list/show/compare output, several processes
 * writing at once, a writer killed inside a transaction, a run whose process died reaped as
 * failed, a file that is not a registry, and a schema-1 registry (before external
 * validations) read as it is and migrated to schema 2 by a writer, then given an external
 * validation linked to its run; a run whose metrics.json lacks a key the registry relies on
 * refused at finish, naming the file and the key (experiments/report/rundir.h).
 * Args: FIXTURE_RUN_DIR WORK_DIR */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/io_json.h"
#include "base/wb_tensor.h"
#include "io/io_fs.h"
#include "experiments/report/registry.h"
#include "io/io_sbuf.h"
#include "wb_test.h"

static char g_fix[4096], g_work[4096];

/* A run directory with the fixture's metrics.json and a manifest.csv. */
static void make_run_dir(const char *dir)
{
    mkdir(dir, 0777);
    char src[4200];
    snprintf(src, sizeof src, "%s/metrics.json", g_fix);
    unsigned char *t = NULL;
    size_t n = 0;
    wb_error e;
    if (io_file_read_all(src, 1 << 24, &t, &n, &e) != 0) return;
    sbuf b = {0};
    sb_printf(&b, "%.*s", (int)n, (const char *)t);
    sb_write(&b, dir, "metrics.json", &e);
    sb_free(&b);
    free(t);
    sb_printf(&b, "file,sop_instance_uid\nP0001/L_CC.dcm,1.2.3\n");
    sb_write(&b, dir, "manifest.csv", &e);
    sb_free(&b);
}

static long long count(const char *db_path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static char *capture(int (*fn)(exp_registry *, const char *, FILE *, wb_error *), exp_registry *reg, const char *arg)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    wb_error e;
    int rc = fn(reg, arg, f, &e);
    fclose(f);
    CHECK(rc >= 0, "registry call failed: %s", e.msg);
    return buf;
}

static int list_all(exp_registry *reg, const char *glob, FILE *f, wb_error *e)
{
    return exp_registry_list(reg, glob, NULL, f, e);
}

static void test_record(const char *db)
{
    exp_registry *reg;
    wb_error e;
    CHECK(exp_registry_open(db, &reg, &e) == 0, "open: %s", e.msg);
    if (!reg) return;
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/exp-20260101T000000Z-abcdef01", g_work);
    make_run_dir(dir);
    exp_registry_run rr = {dir, "exp", "c0ffee", "beef", "abc123", "name: exp\ntrain:\n  epochs: 3\n", 0, NULL, NULL, NULL};
    long long id = 0;
    CHECK(exp_registry_start(reg, &rr, &id, &e) == 0 && id == 1, "start: %s", e.msg);
    CHECK(exp_registry_finish(reg, id, dir, NULL, &e) == 0, "finish: %s", e.msg);
    /* every number of metrics.json's pooled results, exactly */
    unsigned char *t = NULL;
    size_t n = 0, at;
    const char *why;
    char mp[4400];
    snprintf(mp, sizeof mp, "%s/metrics.json", dir);
    io_json_doc d;
    CHECK(io_file_read_all(mp, 1 << 24, &t, &n, &e) == 0 && io_json_parse((char *)t, n, NULL, &d, &at, &why) == 0, "json");
    free(t);
    const io_json_node *vars = io_json_get(&d, &d.nodes[0], "variants");
    long long expected = 0;
    sqlite3 *raw;
    sqlite3_open_v2(db, &raw, SQLITE_OPEN_READONLY, NULL);
    for (int32_t v = vars->first; v >= 0; v = d.nodes[v].next) {
        const char *name = io_json_get(&d, &d.nodes[v], "name")->str;
        expected++; /* trainable_params */
        const io_json_node *reps = io_json_get(&d, &d.nodes[v], "repeats");
        for (int32_t r = reps->first; r >= 0; r = d.nodes[r].next)
            for (int l = 0; l < 2; l++) {
                const io_json_node *m = io_json_get(&d, &d.nodes[r], l ? "breast" : "image");
                for (int32_t c = m->first; c >= 0; c = d.nodes[c].next) {
                    const io_json_node *k = &d.nodes[c];
                    if (k->type == IO_JSON_OBJECT) expected += (long long)k->count;
                    if (k->type != IO_JSON_NUMBER && k->type != IO_JSON_NULL) continue;
                    expected++;
                    if (k->type != IO_JSON_NUMBER) continue;
                    sqlite3_stmt *st;
                    sqlite3_prepare_v2(raw, "SELECT value FROM metrics WHERE run_id=1 AND variant=?1 AND repeat=?2 AND "
                                            "level=?3 AND metric=?4", -1, &st, NULL);
                    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
                    sqlite3_bind_int64(st, 2, (long long)io_json_get(&d, &d.nodes[r], "repeat")->num);
                    sqlite3_bind_text(st, 3, l ? "breast" : "image", -1, SQLITE_STATIC);
                    sqlite3_bind_text(st, 4, k->key, -1, SQLITE_STATIC);
                    int ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_double(st, 0) == k->num;
                    CHECK(ok, "metric %s/%s/%s stored exactly", name, l ? "breast" : "image", k->key);
                    sqlite3_finalize(st);
                }
            }
    }
    sqlite3_close(raw);
    io_json_free(&d);
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM metrics WHERE run_id = 1"), expected, "metric rows");
    /* a run of the same name in another runs directory is another run (another row) */
    char other[4400];
    snprintf(other, sizeof other, "%s/elsewhere", g_work);
    mkdir(other, 0777);
    snprintf(other, sizeof other, "%s/elsewhere/exp-20260101T000000Z-abcdef01", g_work);
    make_run_dir(other);
    exp_registry_run ro = {other, "exp", "other", "beef", "abc123", "name: exp\n", 0, NULL, NULL, NULL};
    long long id_other = 0;
    CHECK(exp_registry_start(reg, &ro, &id_other, &e) == 0 && id_other == 2, "same name elsewhere: new id %lld", id_other);
    CHECK(exp_registry_finish(reg, id_other, other, NULL, &e) == 0, "finish other");
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM metrics WHERE run_id = 1"), expected, "the first run's metrics kept");
    char *out = capture(list_all, reg, NULL);
    CHECK_CONTAINS(out, "finished", "list");
    CHECK_CONTAINS(out, "exp-20260101T000000Z-abcdef01", "list names the run");
    free(out);
    out = capture(exp_registry_show, reg, "1");
    CHECK_CONTAINS(out, "config SHA-256    c0ffee", "show");
    CHECK_CONTAINS(out, "git revision      abc123", "show");
    free(out);
    out = capture(exp_registry_show, reg, "exp-20260101T000000Z-abcdef01");
    CHECK_CONTAINS(out, "config SHA-256    other", "a directory name means the latest run of that name");
    free(out);
    /* a second, failed run of a changed config; compare shows the changed key */
    snprintf(dir, sizeof dir, "%s/exp-20260101T000001Z-abcdef02", g_work);
    make_run_dir(dir);
    exp_registry_run r2 = {dir, "exp", "c0ffef", "beef", "abc123", "name: exp\ntrain:\n  epochs: 5\n", 0, NULL, NULL, NULL};
    CHECK(exp_registry_start(reg, &r2, &id, &e) == 0 && id == 3, "start 3");
    CHECK(exp_registry_finish(reg, id, dir, "labels.csv:3: no such file", &e) == 0, "finish failed");
    out = capture(exp_registry_show, reg, "3");
    CHECK_CONTAINS(out, "status            failed", "failed status");
    CHECK_CONTAINS(out, "error             labels.csv:3: no such file", "error kept");
    free(out);
    char *buf = NULL;
    size_t bn = 0;
    FILE *f = open_memstream(&buf, &bn);
    const char *ids[] = {"1", "3"};
    CHECK(exp_registry_compare(reg, ids, 2, f, &e) == 0, "compare");
    fclose(f);
    CHECK_CONTAINS(buf, "config differences:\n  train.epochs\n    1          3\n    3          5\n", "compare config");
    free(buf);
    f = open_memstream(&buf, &bn);
    CHECK(exp_registry_list(reg, "ex?", "failed", f, &e) == 0, "list filtered");
    fclose(f);
    CHECK(strstr(buf, "exp-20260101T000001Z-abcdef02") && !strstr(buf, "abcdef01"), "status filter: %s", buf);
    free(buf);
    exp_registry_close(reg);
}

/* N processes, each recording K runs start to finish at the same time. */
static void test_concurrent(const char *db)
{
    enum { N = 4, K = 15 };
    pid_t pids[N];
    for (int p = 0; p < N; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            exp_registry *reg;
            wb_error e;
            if (exp_registry_open(db, &reg, &e) != 0) _exit(10);
            for (int k = 0; k < K; k++) {
                char dir[4300];
                snprintf(dir, sizeof dir, "%s/conc-p%d-k%d", g_work, p, k);
                make_run_dir(dir);
                exp_registry_run rr = {dir, "conc", "h", "w", "g", "name: conc\n", 0, NULL, NULL, NULL};
                long long id;
                if (exp_registry_start(reg, &rr, &id, &e) != 0 || exp_registry_finish(reg, id, dir, NULL, &e) != 0) {
                    fprintf(stderr, "child %d: %s\n", p, e.msg);
                    _exit(11);
                }
            }
            exp_registry_close(reg);
            _exit(0);
        }
    }
    for (int p = 0; p < N; p++) {
        int st = 0;
        waitpid(pids[p], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d exited %d", p, WEXITSTATUS(st));
    }
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM runs WHERE name = 'conc' AND status = 'finished'"), N * K,
                 "every concurrent run recorded");
    CHECK_EQ_INT(count(db, "SELECT COUNT(DISTINCT run_id) FROM metrics WHERE run_id IN (SELECT id FROM runs WHERE name='conc')"),
                 N * K, "with its metrics");
}

/* A writer killed inside a transaction: nothing of it is visible, the database is intact,
 * and its run (started, never finished) is reaped as failed. */
static void test_killed(const char *db)
{
    int fd[2];
    if (pipe(fd) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        exp_registry *reg;
        wb_error e;
        char dir[4300];
        snprintf(dir, sizeof dir, "%s/killed-run", g_work);
        make_run_dir(dir);
        exp_registry_run rr = {dir, "killed", "h", "w", "g", "name: killed\n", 0, NULL, NULL, NULL};
        long long id;
        if (exp_registry_open(db, &reg, &e) != 0 || exp_registry_start(reg, &rr, &id, &e) != 0) _exit(10);
        sqlite3 *raw;
        sqlite3_open(db, &raw);
        sqlite3_busy_timeout(raw, 30000);
        sqlite3_exec(raw, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        for (int i = 0; i < 2000; i++) {
            char sql[200];
            snprintf(sql, sizeof sql, "INSERT INTO metrics VALUES(%lld, 'v', 0, 'image', 'm%d', %d)", id, i, i);
            sqlite3_exec(raw, sql, NULL, NULL, NULL);
        }
        if (write(fd[1], "x", 1) != 1) _exit(12);
        sleep(60);
        _exit(0);
    }
    close(fd[1]);
    char c;
    CHECK(read(fd[0], &c, 1) == 1, "the writer is inside its transaction");
    close(fd[0]);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st), "the writer was killed");
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM metrics WHERE run_id = (SELECT id FROM runs WHERE run='killed-run')"), 0,
                 "the killed transaction left nothing");
    sqlite3 *raw;
    sqlite3_stmt *q;
    sqlite3_open(db, &raw);
    sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &q, NULL);
    CHECK(sqlite3_step(q) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(q, 0), "ok"), "integrity_check");
    sqlite3_finalize(q);
    sqlite3_close(raw);
    exp_registry *reg;
    wb_error e;
    CHECK(exp_registry_open(db, &reg, &e) == 0, "reopen after the kill: %s", e.msg);
    if (!reg) return;
    CHECK_EQ_INT(exp_registry_reap(reg, &e), 1, "the dead run is reaped");
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM runs WHERE run='killed-run' AND status='failed' AND error LIKE '%ended without finishing%'"),
                 1, "and recorded as failed");
    CHECK_EQ_INT(exp_registry_reap(reg, &e), 0, "only once");
    exp_registry_close(reg);
}

/* Reading a registry this process may not write (issue 15: `runs list` used to fail with
 * "attempt to write a readonly database"): a copy of db in a directory of its own, made
 * unwritable, read by a child as another user (root: setuid nobody, since chmod does not stop
 * root) or after chmod a-w (not root). list, show and compare work, and the file is unchanged
 * and has no WAL side files. (tests/cli/test_hardening.sh also reads one on a read-only mount.) */
static void test_read_only(const char *db)
{
    char dir[4300], copy[4400], side[4500];
    snprintf(dir, sizeof dir, "%s/ro", g_work);
    snprintf(copy, sizeof copy, "%s/registry.sqlite", dir);
    mkdir(dir, 0777);
    chmod(dir, 0777);
    remove(copy);
    unsigned char *t = NULL, *t2 = NULL;
    size_t n = 0, n2 = 0;
    wb_error e;
    CHECK(io_file_read_all(db, 1 << 26, &t, &n, &e) == 0, "read the registry: %s", e.msg);
    FILE *f = fopen(copy, "wb");
    CHECK(f && fwrite(t, 1, n, f) == n && fclose(f) == 0, "copy the registry");
    const int root = geteuid() == 0;
    chmod(copy, root ? 0644 : 0444);
    chmod(dir, root ? 0755 : 0555);
    pid_t pid = fork();
    if (pid == 0) {
        if (root && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(77);
        exp_registry *reg = NULL;
        if (exp_registry_open_read(copy, &reg, &e) != 0) {
            fprintf(stderr, "open_read: %s: %s\n", e.file, e.msg);
            _exit(10);
        }
        char *buf = NULL;
        size_t bn = 0;
        FILE *o = open_memstream(&buf, &bn);
        const char *ids[] = {"1", "3"};
        int rc = exp_registry_list(reg, NULL, NULL, o, &e) < 0 ? 11
                 : exp_registry_show(reg, "1", o, &e) != 0      ? 12
                 : exp_registry_compare(reg, ids, 2, o, &e) != 0 ? 13
                                                                 : 0;
        fclose(o);
        if (rc) fprintf(stderr, "read-only registry: %s\n", e.msg);
        else if (!strstr(buf, "exp-20260101T000000Z-abcdef01") || !strstr(buf, "config SHA-256    c0ffee") ||
                 !strstr(buf, "config differences:"))
            rc = 14;
        free(buf);
        exp_registry_close(reg);
        _exit(rc);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        fprintf(stderr, "registry: read-only test skipped (cannot become nobody)\n");
    } else {
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "list, show and compare of a read-only registry (child status %d)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    CHECK(io_file_read_all(copy, 1 << 26, &t2, &n2, &e) == 0 && n2 == n && !memcmp(t, t2, n), "the registry is unchanged");
    snprintf(side, sizeof side, "%s-wal", copy);
    CHECK(access(side, F_OK) != 0, "no -wal file");
    snprintf(side, sizeof side, "%s-shm", copy);
    CHECK(access(side, F_OK) != 0, "no -shm file");
    free(t);
    free(t2);
    chmod(dir, 0777);
    chmod(copy, 0666);
}

static void test_bad_file(void)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/not-a-db.sqlite", g_work);
    FILE *f = fopen(path, "w");
    fputs("this is not an SQLite database, just a text file that is long enough to have a header page\n", f);
    fclose(f);
    exp_registry *reg = NULL;
    wb_error e;
    CHECK(exp_registry_open(path, &reg, &e) != 0 && reg == NULL, "a text file is refused");
    CHECK_CONTAINS(e.file, "not-a-db.sqlite", "names the file");
    CHECK_CONTAINS(e.msg, "not a database", "says why");
    snprintf(path, sizeof path, "%s/no/such/dir/registry.sqlite", g_work);
    CHECK(exp_registry_open(path, &reg, &e) != 0, "a missing directory is refused");
    CHECK_CONTAINS(e.msg, "cannot open the run registry", "says why");
}

/* The schema-1 tables, as registries made before external validations have them. */
static const char *const SCHEMA_1 =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta VALUES('schema_version', '1');"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, run TEXT NOT NULL, dir TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK(status IN ('running','finished','failed')), started_utc TEXT NOT NULL, ended_utc TEXT,"
    " t_start REAL, seconds REAL, config_hash TEXT, manifest_hash TEXT, weights_hash TEXT, git_revision TEXT,"
    " host TEXT, pid INTEGER, error TEXT, config TEXT);"
    "CREATE TABLE metrics(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, variant TEXT NOT NULL,"
    " repeat INTEGER NOT NULL, level TEXT NOT NULL, metric TEXT NOT NULL, value REAL,"
    " PRIMARY KEY(run_id, variant, repeat, level, metric));"
    "INSERT INTO runs(id, run, dir, name, status, started_utc, config) VALUES(1, 'old-20250101T000000Z-00000001',"
    " '/nowhere/old-20250101T000000Z-00000001', 'old', 'finished', '2025-01-01T00:00:00Z', 'name: old\n');"
    "INSERT INTO metrics VALUES(1, 'probe', 0, 'image', 'auc', 0.8125);"
    "INSERT INTO metrics VALUES(1, 'probe', 0, 'image', 'auc_ci_low', 0.7);"
    "INSERT INTO metrics VALUES(1, 'probe', 0, 'image', 'auc_ci_high', 0.9);"
    "INSERT INTO metrics VALUES(1, 'probe', 0, 'image', 'n', 64);";

static int compare_one(exp_registry *reg, const char *id, FILE *f, wb_error *e)
{
    const char *ids[1] = {id};
    return exp_registry_compare(reg, ids, 1, f, e);
}

static void test_migrate(void)
{
    char db[4300];
    snprintf(db, sizeof db, "%s/v1.sqlite", g_work);
    remove(db);
    sqlite3 *raw;
    CHECK(sqlite3_open(db, &raw) == SQLITE_OK && sqlite3_exec(raw, SCHEMA_1, NULL, NULL, NULL) == SQLITE_OK, "make v1");
    sqlite3_close(raw);
    /* read as it is: nothing written */
    exp_registry *reg = NULL;
    wb_error e;
    CHECK(exp_registry_open_read(db, &reg, &e) == 0, "open_read v1: %s", e.msg);
    if (!reg) return;
    char *out = capture(list_all, reg, NULL);
    CHECK(out && strstr(out, "old-20250101T000000Z-00000001") && strstr(out, "probe 0.812") && !strstr(out, "external"),
          "list of a v1 registry: %s", out ? out : "");
    free(out);
    exp_registry_close(reg);
    CHECK_EQ_INT(count(db, "SELECT value FROM meta WHERE key = 'schema_version'"), 1, "read: still schema 1");
    /* a writer migrates it; the old run is a cv run */
    CHECK(exp_registry_open(db, &reg, &e) == 0, "open v1 for writing: %s", e.msg);
    if (!reg) return;
    CHECK_EQ_INT(count(db, "SELECT value FROM meta WHERE key = 'schema_version'"), 2, "migrated to schema 2");
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM runs WHERE kind = 'cv' AND source_id IS NULL"), 1, "the old run: kind cv");
    /* an external validation of it: linked by the run's name, its metrics stored as image level */
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/ext-p", g_work);
    mkdir(dir, 0777);
    sbuf b = {0};
    sb_printf(&b, "{\"kind\": \"external_validation\", \"variant\": \"probe\", \"labeled\": true, \"metrics\": "
                  "{\"auc\": 0.75, \"auc_ci_low\": 0.6, \"auc_ci_high\": 0.875, \"n\": 40}, \"reference\": {\"variant\": "
                  "\"baseline\", \"metrics\": {\"auc\": 0.7}}, \"vs_reference\": {\"delta_auc\": 0.05, \"delong_p\": 0.4}}\n");
    sb_write(&b, dir, "metrics.json", &e);
    sb_free(&b);
    sb_printf(&b, "file,score\nx.dcm,0.5\n");
    sb_write(&b, dir, "predictions.csv", &e);
    sb_free(&b);
    exp_registry_run rr = {dir, "bundle-x", NULL, NULL, NULL, NULL, 0, "external_validation",
                           "old-20250101T000000Z-00000001", "other/labels.csv"};
    long long id = 0;
    CHECK(exp_registry_start(reg, &rr, &id, &e) == 0 && id == 2, "start an external validation: %s", e.msg);
    CHECK(exp_registry_source(reg, id) == 1, "linked to the run of its source run's name");
    CHECK(exp_registry_finish(reg, id, dir, NULL, &e) == 0, "finish: %s", e.msg);
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM metrics WHERE run_id = 2 AND repeat = 0 AND level = 'image'"), 7,
                 "its metrics: probe's 4 and vs_reference's 2, the reference's 1");
    out = capture(compare_one, reg, "1");
    CHECK(out && strstr(out, "1 internal CV") && strstr(out, "2 external") &&
              strstr(out, "AUC [95% CI]  0.812 [0.700, 0.900]           0.750 [0.600, 0.875]") &&
              strstr(out, "n             64                             40") &&
              strstr(out, "dAUC vs ref.  n/a                            +0.050"),
          "compare of the run: internal CV against external: %s", out ? out : "");
    free(out);
    out = capture(exp_registry_show, reg, "2");
    CHECK(out && strstr(out, "source run        1 (old-20250101T000000Z-00000001)") && strstr(out, "cohort            other/labels.csv"),
          "show of the external validation: %s", out ? out : "");
    free(out);
    exp_registry_close(reg);
    /* a later schema is refused, named */
    CHECK(sqlite3_open(db, &raw) == SQLITE_OK &&
              sqlite3_exec(raw, "UPDATE meta SET value = '3' WHERE key = 'schema_version'", NULL, NULL, NULL) == SQLITE_OK,
          "set version 3");
    sqlite3_close(raw);
    CHECK(exp_registry_open(db, &reg, &e) != 0 && reg == NULL, "schema 3 refused");
    CHECK_CONTAINS(e.msg, "schema_version is not 1 or 2", "says why");
    CHECK(exp_registry_open_read(db, &reg, &e) != 0 && reg == NULL, "schema 3 refused for reading");
}

/* A metrics.json without one metric of the first variant's first repeat: finish fails naming
 * the file and the key's full path, and the run's metrics are not half stored. */
static void test_missing_key(const char *db)
{
    char dir[4300], mp[4400];
    snprintf(dir, sizeof dir, "%s/exp-20260101T000000Z-missing1", g_work);
    make_run_dir(dir);
    snprintf(mp, sizeof mp, "%s/metrics.json", dir);
    unsigned char *t = NULL;
    size_t n = 0;
    wb_error e;
    CHECK(io_file_read_all(mp, 1 << 24, &t, &n, &e) == 0, "read %s: %s", mp, e.msg);
    if (!t) return;
    char *k = strstr((char *)t, "\"n_positive\": ");
    CHECK(k != NULL, "the fixture has n_positive");
    if (k) k[3] = 'X'; /* "n_XositiveX": the key the registry stores is gone */
    sbuf b = {0};
    sb_printf(&b, "%.*s", (int)n, (const char *)t);
    free(t);
    CHECK(sb_write(&b, dir, "metrics.json", &e) == 0, "write: %s", e.msg);
    sb_free(&b);
    exp_registry *reg;
    CHECK(exp_registry_open(db, &reg, &e) == 0, "open: %s", e.msg);
    if (!reg) return;
    exp_registry_run rr = {dir, "exp", "c0ffee", "beef", "abc123", "name: exp\n", 0, NULL, NULL, NULL};
    long long id = 0;
    CHECK(exp_registry_start(reg, &rr, &id, &e) == 0, "start: %s", e.msg);
    wb_error_clear(&e);
    CHECK(exp_registry_finish(reg, id, dir, NULL, &e) != 0, "a metrics.json without n_positive is refused");
    CHECK_CONTAINS(e.file, "missing1/metrics.json", "names the file");
    CHECK_STR(e.key, "variants[0].repeats[0].image.n_positive", "names the key");
    CHECK_CONTAINS(e.msg, "missing", "says why");
    CHECK_EQ_INT(e.code, WB_E_DATA, "bad input data");
    exp_registry_close(reg);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM metrics WHERE run_id = %lld", id);
    CHECK_EQ_INT(count(db, sql), 0, "no metrics stored for the refused run");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FIXTURE_RUN_DIR WORK_DIR\n", argv[0]);
        return 2;
    }
    snprintf(g_fix, sizeof g_fix, "%s", argv[1]);
    snprintf(g_work, sizeof g_work, "%s", argv[2]);
    mkdir(g_work, 0777);
    char db[4300];
    snprintf(db, sizeof db, "%s/registry.sqlite", g_work);
    remove(db);
    char side[4400];
    snprintf(side, sizeof side, "%s-wal", db);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", db);
    remove(side);
    test_record(db);
    test_concurrent(db);
    test_read_only(db);
    test_killed(db);
    test_bad_file();
    test_missing_key(db);
    test_migrate();
    return wb_test_finish("registry");
}
