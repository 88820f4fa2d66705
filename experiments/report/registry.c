/* registry.c — see registry.h. */
#include "experiments/report/registry.h"
#include "experiments/report/rundir.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "io/io_json.h"
#include "io/io_sha256.h"
#include "base/wb_tensor.h"
#include "io/io_fs.h"
#include "experiments/report/report.h"
#include "io/io_sbuf.h"
#include "experiments/config/yamlflat.h"

struct exp_registry {
    sqlite3 *db;
    char path[4096];
    int readonly; /* opened by exp_registry_open_read on a file this process cannot write */
    int version;  /* the file's schema_version (1: before external validations) */
};

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT OR IGNORE INTO meta VALUES('schema_version', '1');"
    "CREATE TABLE IF NOT EXISTS runs("
    " id INTEGER PRIMARY KEY,"
    " run TEXT NOT NULL,"                 /* the run directory's name */
    " dir TEXT NOT NULL UNIQUE,"          /* its absolute path: the run's identity */
    " name TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK(status IN ('running','finished','failed')),"
    " started_utc TEXT NOT NULL, ended_utc TEXT,"
    " t_start REAL, seconds REAL,"
    " config_hash TEXT, manifest_hash TEXT, weights_hash TEXT, git_revision TEXT,"
    " host TEXT, pid INTEGER, error TEXT, config TEXT);"
    "CREATE TABLE IF NOT EXISTS metrics("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " variant TEXT NOT NULL, repeat INTEGER NOT NULL, level TEXT NOT NULL, metric TEXT NOT NULL, value REAL,"
    " PRIMARY KEY(run_id, variant, repeat, level, metric));";

/* Schema 2 (external validations, `workbench predict`): what a version-1 file gets added. */
static const char *const MIGRATE_2 =
    "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'cv';"
    "ALTER TABLE runs ADD COLUMN source_id INTEGER REFERENCES runs(id) ON DELETE SET NULL;"
    "ALTER TABLE runs ADD COLUMN source_run TEXT;"
    "ALTER TABLE runs ADD COLUMN cohort TEXT;"
    "UPDATE meta SET value = '2' WHERE key = 'schema_version';";

/* A version-1 file read without migrating (exp_registry_open_read writes nothing): the same
 * columns through a temporary view that shadows the table. */
static const char *const VIEW_1 =
    "CREATE TEMP VIEW runs AS SELECT *, 'cv' AS kind, NULL AS source_id, NULL AS source_run, NULL AS cohort "
    "FROM main.runs;";

/* A full or read-only disk is an output problem (exit 4), with the system's reason. */
static wb_code db_code(sqlite3 *db)
{
    switch (sqlite3_errcode(db) & 0xff) {
    case SQLITE_FULL: case SQLITE_READONLY: case SQLITE_CANTOPEN: case SQLITE_IOERR: case SQLITE_PERM: return WB_E_WRITE;
    case SQLITE_NOMEM: return WB_E_NOMEM;
    default: return WB_E_IO;
    }
}

static int db_err(exp_registry *reg, wb_error *err, const char *what, const char *msg)
{
    int se = sqlite3_system_errno(reg->db);
    wb_code c = db_code(reg->db);
    if (se && c == WB_E_WRITE)
        return wb_err(err, c, reg->path, "%s%s%s (%s)", what, what[0] ? ": " : "", msg, strerror(se));
    return wb_err(err, c, reg->path, "%s%s%s", what, what[0] ? ": " : "", msg);
}

static int db_fail(exp_registry *reg, wb_error *err, const char *what)
{
    return db_err(reg, err, what, sqlite3_errmsg(reg->db));
}

static int exec(exp_registry *reg, const char *sql, wb_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(reg->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        db_err(reg, err, "", msg ? msg : sqlite3_errmsg(reg->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int check_version(exp_registry *reg);

int exp_registry_open(const char *path, exp_registry **out, wb_error *err)
{
    *out = NULL;
    exp_registry *reg = calloc(1, sizeof *reg);
    if (!reg) return wb_err(err, WB_E_NOMEM, path, "out of memory");
    snprintf(reg->path, sizeof reg->path, "%s", path);
    if (sqlite3_open_v2(path, &reg->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        if (reg->db) db_fail(reg, err, "cannot open the run registry");
        else wb_err(err, WB_E_NOMEM, path, "cannot open the run registry: out of memory");
        exp_registry_close(reg);
        return -1;
    }
    sqlite3_busy_timeout(reg->db, 30000);
    /* WAL: readers never block the writer, and a killed writer's transaction rolls back */
    if (exec(reg, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", err) != 0 ||
        exec(reg, "BEGIN IMMEDIATE;", err) != 0) {
        exp_registry_close(reg);
        return -1;
    }
    if (exec(reg, SCHEMA, err) != 0) {
        sqlite3_exec(reg->db, "ROLLBACK;", NULL, NULL, NULL);
        exp_registry_close(reg);
        return -1;
    }
    /* a new file is made as version 1 and migrated like an old one, in the same transaction */
    int ok = check_version(reg) == 0 && (reg->version == 2 || (reg->version == 1 && exec(reg, MIGRATE_2, err) == 0));
    if (!ok) {
        sqlite3_exec(reg->db, "ROLLBACK;", NULL, NULL, NULL);
        if (reg->version != 1)
            wb_err(err, WB_E_DATA, path, "not a run registry of this workbench version (schema_version is not 1 or 2)");
        exp_registry_close(reg);
        return -1;
    }
    reg->version = 2;
    if (exec(reg, "COMMIT;", err) != 0) {
        exp_registry_close(reg);
        return -1;
    }
    *out = reg;
    return 0;
}

/* path as an SQLite URI with immutable=1 ("%", "?", "#" and bytes outside printable ASCII
 * percent-encoded), or NULL when out of memory. */
static char *immutable_uri(const char *path)
{
    sbuf b = {0};
    sb_printf(&b, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#' || *p <= ' ' || *p >= 0x7f) sb_printf(&b, "%%%02X", *p);
        else sb_printf(&b, "%c", *p);
    }
    sb_printf(&b, "?immutable=1");
    if (b.oom) {
        sb_free(&b);
        return NULL;
    }
    return b.s;
}

/* 0 if the registry's schema version is one we read (1 or 2, into reg->version); else the
 * sqlite3 result code (or -1: another version). */
static int check_version(exp_registry *reg)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(reg->db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st, NULL);
    reg->version = 0;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const char *v = (const char *)sqlite3_column_text(st, 0);
            reg->version = v && !strcmp(v, "1") ? 1 : v && !strcmp(v, "2") ? 2 : 0;
            rc = reg->version ? 0 : -1;
        } else {
            rc = rc == SQLITE_DONE ? -1 : rc;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int exp_registry_open_first(const char *path, const char *what, exp_registry **out, wb_error *err)
{
    if (exp_registry_open(path, out, err) == 0) return 0;
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    snprintf(err->msg, sizeof err->msg, "the run registry cannot be written (%.600s); %.40s was not started and nothing was "
             "written: move the file away, or record it elsewhere with --registry DB or not at all with --registry none",
             why, what);
    return -1;
}

int exp_registry_open_read(const char *path, exp_registry **out, wb_error *err)
{
    *out = NULL;
    exp_registry *reg = calloc(1, sizeof *reg);
    if (!reg) return wb_err(err, WB_E_NOMEM, path, "out of memory");
    snprintf(reg->path, sizeof reg->path, "%s", path);
    /* Writable (the file, and its directory for the WAL's side files): read-write without
     * creating anything, so that list can mark dead runs as failed. Otherwise read-only; a WAL
     * database whose -shm file cannot be created (read-only file system, another user's
     * directory) is read as immutable: nobody can be writing it there. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
    else snprintf(dir, sizeof dir, ".");
    reg->readonly = access(path, W_OK) != 0 || access(dir, W_OK) != 0;
    int rc = sqlite3_open_v2(path, &reg->db, reg->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(reg->db, 30000);
        rc = check_version(reg);
    }
    if (reg->readonly && rc != SQLITE_OK && rc != -1 && reg->db && ((sqlite3_errcode(reg->db) & 0xff) == SQLITE_CANTOPEN || (sqlite3_errcode(reg->db) & 0xff) == SQLITE_READONLY)) {
        sqlite3_close(reg->db);
        reg->db = NULL;
        char *uri = immutable_uri(path);
        if (!uri) {
            exp_registry_close(reg);
            return wb_err(err, WB_E_NOMEM, path, "out of memory");
        }
        rc = sqlite3_open_v2(uri, &reg->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
        free(uri);
        if (rc == SQLITE_OK) rc = check_version(reg);
    }
    if (rc == SQLITE_OK && reg->version == 1 && sqlite3_exec(reg->db, VIEW_1, NULL, NULL, NULL) != SQLITE_OK) rc = SQLITE_ERROR;
    if (rc == -1) {
        wb_err(err, WB_E_DATA, path, "not a run registry of this workbench version (schema_version is not 1 or 2)");
    } else if (rc != SQLITE_OK) {
        if (reg->db) {
            wb_code c = db_code(reg->db);
            wb_err(err, c == WB_E_WRITE ? WB_E_IO : c, path, "cannot read the run registry: %s", sqlite3_errmsg(reg->db));
        } else {
            wb_err(err, WB_E_NOMEM, path, "cannot open the run registry: out of memory");
        }
    }
    if (rc != SQLITE_OK) {
        exp_registry_close(reg);
        return -1;
    }
    if (!reg->readonly && exec(reg, "PRAGMA foreign_keys=ON;", err) != 0) {
        exp_registry_close(reg);
        return -1;
    }
    *out = reg;
    return 0;
}

void exp_registry_close(exp_registry *reg)
{
    if (!reg) return;
    sqlite3_close(reg->db);
    free(reg);
}

static void utc_now(char *buf, size_t n, double *epoch)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tmv;
    gmtime_r(&tv.tv_sec, &tmv);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    *epoch = (double)tv.tv_sec + tv.tv_usec * 1e-6;
}

static const char *base_name(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    const char *s = dir + n;
    while (s > dir && s[-1] != '/') s--;
    return s;
}

int exp_registry_start(exp_registry *reg, const exp_registry_run *run, long long *id, wb_error *err)
{
    char now[32], host[256] = "";
    double t;
    utc_now(now, sizeof now, &t);
    gethostname(host, sizeof host - 1);
    /* the absolute path identifies the run: two runs directories may hold equal names */
    char abs_dir[PATH_MAX];
    if (!realpath(run->dir, abs_dir)) snprintf(abs_dir, sizeof abs_dir, "%s", run->dir);
    char run_name[1024];
    snprintf(run_name, sizeof run_name, "%s", base_name(run->dir));
    size_t rl = strlen(run_name);
    while (rl > 1 && run_name[rl - 1] == '/') run_name[--rl] = '\0';
    sqlite3_stmt *st = NULL;
    /* a resumed run keeps its row (and id): running again, the old end and error cleared */
    /* an external validation is linked to the latest run of its source run's name */
    const char *sql = "INSERT INTO runs(run, dir, name, status, started_utc, t_start, config_hash, weights_hash, "
                      "git_revision, host, pid, config, kind, source_run, cohort, source_id) "
                      "VALUES(?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                      "(SELECT id FROM runs WHERE ?13 IS NOT NULL AND run = ?13 AND kind = 'cv' ORDER BY id DESC LIMIT 1)) "
                      "ON CONFLICT(dir) DO UPDATE SET status='running', ended_utc=NULL, seconds=NULL, error=NULL, t_start=?5, "
                      "host=?9, pid=?10, kind=excluded.kind, source_run=excluded.source_run, cohort=excluded.cohort, "
                      "source_id=excluded.source_id, name=excluded.name "
                      "RETURNING id";
    if (sqlite3_prepare_v2(reg->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(reg, err, "cannot record the run");
    sqlite3_bind_text(st, 1, run_name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, abs_dir, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, run->name ? run->name : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 5, t);
    sqlite3_bind_text(st, 6, run->config_hash ? run->config_hash : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, run->weights_hash ? run->weights_hash : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, run->git_revision ? run->git_revision : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 9, host, -1, SQLITE_TRANSIENT);
    if (run->detached) sqlite3_bind_null(st, 10);
    else sqlite3_bind_int64(st, 10, (sqlite3_int64)getpid());
    sqlite3_bind_text(st, 11, run->config_text ? run->config_text : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 12, run->kind ? run->kind : "cv", -1, SQLITE_TRANSIENT);
    if (run->source_run) sqlite3_bind_text(st, 13, run->source_run, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 13);
    if (run->cohort) sqlite3_bind_text(st, 14, run->cohort, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 14);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return db_fail(reg, err, "cannot record the run");
    return 0;
}

/* Inserts every number of one metrics object (and its vs_reference) for (variant, repeat, level). */
static int insert_level(exp_registry *reg, sqlite3_stmt *ins, long long id, const char *variant, long repeat,
                        const char *level, const io_json_doc *d, const io_json_node *obj)
{
    for (int32_t c = obj->first; c >= 0; c = d->nodes[c].next) {
        const io_json_node *n = &d->nodes[c];
        if (n->type == IO_JSON_OBJECT && !strcmp(n->key, EXP_RD_K_VS_REFERENCE)) {
            if (insert_level(reg, ins, id, variant, repeat, level, d, n) != 0) return -1;
            continue;
        }
        if (n->type != IO_JSON_NUMBER && n->type != IO_JSON_NULL) continue;
        sqlite3_reset(ins);
        sqlite3_bind_int64(ins, 1, id);
        sqlite3_bind_text(ins, 2, variant, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 3, repeat);
        sqlite3_bind_text(ins, 4, level, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 5, n->key, -1, SQLITE_TRANSIENT);
        if (n->type == IO_JSON_NUMBER) sqlite3_bind_double(ins, 6, n->num);
        else sqlite3_bind_null(ins, 6);
        if (sqlite3_step(ins) != SQLITE_DONE) return -1;
    }
    return 0;
}

static int store_metrics(exp_registry *reg, long long id, const char *dir, wb_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" EXP_RD_METRICS_JSON, dir);
    io_json_doc d;
    if (io_json_load(path, EXP_RD_JSON_MAX, &d, err) != 0) return -1;
    if (exp_rundir_check_metrics(&d, path, err) != 0) {
        io_json_free(&d);
        return -1;
    }
    const io_json_node *vars = io_json_get(&d, &d.nodes[0], EXP_RD_K_VARIANTS);
    sqlite3_stmt *ins = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(reg->db, "INSERT OR REPLACE INTO metrics VALUES(?1, ?2, ?3, ?4, ?5, ?6)", -1, &ins, NULL) != SQLITE_OK)
        rc = db_fail(reg, err, "cannot store the metrics");
    for (int32_t v = vars && vars->type == IO_JSON_ARRAY ? vars->first : -1; !rc && v >= 0; v = d.nodes[v].next) {
        const io_json_node *vn = &d.nodes[v], *name = io_json_get(&d, vn, EXP_RD_K_NAME), *reps = io_json_get(&d, vn, EXP_RD_K_REPEATS);
        const io_json_node *tp = io_json_get(&d, vn, EXP_RD_K_TRAINABLE_PARAMS);
        if (!name || name->type != IO_JSON_STRING || !reps || reps->type != IO_JSON_ARRAY) continue;
        if (tp && tp->type == IO_JSON_NUMBER) {
            sqlite3_reset(ins);
            sqlite3_bind_int64(ins, 1, id);
            sqlite3_bind_text(ins, 2, name->str, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(ins, 3, 0);
            sqlite3_bind_text(ins, 4, "model", -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 5, "trainable_params", -1, SQLITE_STATIC);
            sqlite3_bind_double(ins, 6, tp->num);
            if (sqlite3_step(ins) != SQLITE_DONE) rc = db_fail(reg, err, "cannot store the metrics");
        }
        for (int32_t r = reps->first; !rc && r >= 0; r = d.nodes[r].next) {
            const io_json_node *rn = &d.nodes[r], *rep = io_json_get(&d, rn, EXP_RD_K_REPEAT);
            long repeat = rep && rep->type == IO_JSON_NUMBER && rep->is_int ? (long)rep->i : 0; /* not a cast of any double */
            for (int32_t c = rn->first; !rc && c >= 0; c = d.nodes[c].next)
                if (d.nodes[c].type == IO_JSON_OBJECT &&
                    insert_level(reg, ins, id, name->str, repeat, d.nodes[c].key, &d, &d.nodes[c]) != 0)
                    rc = db_fail(reg, err, "cannot store the metrics");
        }
    }
    sqlite3_finalize(ins);
    io_json_free(&d);
    return rc;
}

/* An external validation's metrics.json (`workbench predict`): the network ensemble's metrics
 * and the paired DeLong test against the reference under its variant, the reference's under
 * its own; repeat 0, level image, as a run's pooled repeat-1 image metrics. */
static int store_external_metrics(exp_registry *reg, long long id, const char *dir, wb_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" EXP_RD_METRICS_JSON, dir);
    io_json_doc d;
    if (io_json_load(path, EXP_RD_JSON_MAX, &d, err) != 0) return -1;
    const io_json_node *root = &d.nodes[0], *var = io_json_get(&d, root, "variant"), *m = io_json_get(&d, root, "metrics"),
                       *ref = io_json_get(&d, root, EXP_RD_K_REFERENCE), *vs = io_json_get(&d, root, EXP_RD_K_VS_REFERENCE);
    int rc = 0;
    if (root->type != IO_JSON_OBJECT || !var || var->type != IO_JSON_STRING || !m ||
        (m->type != IO_JSON_OBJECT && m->type != IO_JSON_NULL)) {
        io_json_free(&d);
        return wb_err(err, WB_E_DATA, path, "not an external validation's metrics.json (variant, metrics)");
    }
    sqlite3_stmt *ins = NULL;
    if (sqlite3_prepare_v2(reg->db, "INSERT OR REPLACE INTO metrics VALUES(?1, ?2, ?3, ?4, ?5, ?6)", -1, &ins, NULL) != SQLITE_OK)
        rc = db_fail(reg, err, "cannot store the metrics");
    if (!rc && m->type == IO_JSON_OBJECT && insert_level(reg, ins, id, var->str, 0, EXP_RD_LEVEL_IMAGE, &d, m) != 0)
        rc = db_fail(reg, err, "cannot store the metrics");
    if (!rc && m->type == IO_JSON_OBJECT && vs && vs->type == IO_JSON_OBJECT &&
        insert_level(reg, ins, id, var->str, 0, EXP_RD_LEVEL_IMAGE, &d, vs) != 0)
        rc = db_fail(reg, err, "cannot store the metrics");
    if (!rc && ref && ref->type == IO_JSON_OBJECT) {
        const io_json_node *rv = io_json_get(&d, ref, "variant"), *rm = io_json_get(&d, ref, "metrics");
        if (rv && rv->type == IO_JSON_STRING && rm && rm->type == IO_JSON_OBJECT &&
            insert_level(reg, ins, id, rv->str, 0, EXP_RD_LEVEL_IMAGE, &d, rm) != 0)
            rc = db_fail(reg, err, "cannot store the metrics");
    }
    sqlite3_finalize(ins);
    io_json_free(&d);
    return rc;
}

/* The kind of row id ("cv" or "external_validation") into buf. */
static void row_kind(exp_registry *reg, long long id, char *buf, size_t n)
{
    sqlite3_stmt *st = NULL;
    snprintf(buf, n, "cv");
    if (sqlite3_prepare_v2(reg->db, "SELECT kind FROM runs WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
}

long long exp_registry_source(exp_registry *reg, long long id)
{
    sqlite3_stmt *st = NULL;
    long long r = -1;
    if (sqlite3_prepare_v2(reg->db, "SELECT source_id FROM runs WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW) r = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return r;
}

int exp_registry_find(exp_registry *reg, const char *dir, long long *id, wb_error *err)
{
    char abs_dir[PATH_MAX];
    if (!realpath(dir, abs_dir)) snprintf(abs_dir, sizeof abs_dir, "%s", dir);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db, "SELECT id FROM runs WHERE dir = ?1", -1, &st, NULL) != SQLITE_OK)
        return db_fail(reg, err, "cannot read the registry");
    sqlite3_bind_text(st, 1, abs_dir, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return wb_err(err, WB_E_DATA, dir, "this run is not in the registry %s (prepared with another --registry?)",
                      sqlite3_db_filename(reg->db, "main"));
    return 0;
}

int exp_registry_finish(exp_registry *reg, long long id, const char *dir, const char *error, wb_error *err)
{
    char now[32], mhash[65] = "";
    double t;
    utc_now(now, sizeof now, &t);
    char kind[32];
    row_kind(reg, id, kind, sizeof kind);
    const int external = !strcmp(kind, "external_validation");
    if (!error) {
        /* a run's manifest; an external validation's predictions */
        char mpath[4200];
        uint8_t h[32];
        snprintf(mpath, sizeof mpath, "%s/%s", dir, external ? EXP_RD_PREDICTIONS : EXP_RD_MANIFEST);
        if (io_sha256_file(mpath, h, err) != 0) return -1;
        io_sha256_hex(h, mhash);
    }
    if (exec(reg, "BEGIN IMMEDIATE;", err) != 0) return -1;
    int rc = 0;
    if (!error) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM metrics WHERE run_id = %lld;", id);
        rc = exec(reg, sql, err);
        if (!rc) rc = external ? store_external_metrics(reg, id, dir, err) : store_metrics(reg, id, dir, err);
    }
    sqlite3_stmt *st = NULL;
    if (!rc && sqlite3_prepare_v2(reg->db,
                                  "UPDATE runs SET status = ?2, ended_utc = ?3, seconds = ?4 - t_start, error = ?5, "
                                  "manifest_hash = ?6 WHERE id = ?1",
                                  -1, &st, NULL) != SQLITE_OK)
        rc = db_fail(reg, err, "cannot record the end of the run");
    if (!rc) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, error ? "failed" : "finished", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 4, t);
        if (error) sqlite3_bind_text(st, 5, error, -1, SQLITE_TRANSIENT);
        else sqlite3_bind_null(st, 5);
        sqlite3_bind_text(st, 6, mhash, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_fail(reg, err, "cannot record the end of the run");
    }
    sqlite3_finalize(st);
    if (rc) {
        sqlite3_exec(reg->db, "ROLLBACK;", NULL, NULL, NULL);
        return -1;
    }
    return exec(reg, "COMMIT;", err);
}

/* 1 if a process with this pid exists on this machine. */
static int pid_alive(long long pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

int exp_registry_reap(exp_registry *reg, wb_error *err)
{
    if (reg->readonly) return 0; /* a registry we may only read: its dead runs stay "running" */
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db, "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?1 AND pid IS NOT NULL", -1, &st, NULL) != SQLITE_OK)
        return db_fail(reg, err, "cannot read the registry");
    sqlite3_bind_text(st, 1, host, -1, SQLITE_TRANSIENT);
    long long gone[256][2];
    int n = 0;
    while (n < 256 && sqlite3_step(st) == SQLITE_ROW)
        if (!pid_alive(sqlite3_column_int64(st, 1)) || sqlite3_column_int64(st, 1) == (long long)getpid()) {
            gone[n][0] = sqlite3_column_int64(st, 0);
            gone[n++][1] = sqlite3_column_int64(st, 1);
        }
    sqlite3_finalize(st);
    /* only if it is still that process's run: a resume may have taken it over meanwhile */
    char now[32];
    double t;
    utc_now(now, sizeof now, &t);
    int reaped = 0;
    for (int i = 0; i < n; i++) {
        if (sqlite3_prepare_v2(reg->db,
                               "UPDATE main.runs SET status = 'failed', ended_utc = ?3, seconds = NULL, "
                               "error = 'the process ended without finishing (killed or crashed)' "
                               "WHERE id = ?1 AND pid = ?2 AND status = 'running'",
                               -1, &st, NULL) != SQLITE_OK)
            return db_fail(reg, err, "cannot update the registry");
        sqlite3_bind_int64(st, 1, gone[i][0]);
        sqlite3_bind_int64(st, 2, gone[i][1]);
        sqlite3_bind_text(st, 3, now, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return db_fail(reg, err, "cannot update the registry");
        reaped += sqlite3_changes(reg->db) > 0;
    }
    return reaped;
}

/* ---- list, show, compare ---- */

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static void fmt_duration(char *buf, size_t n, sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) snprintf(buf, n, "-");
    else exp_report_fmt(buf, n, sqlite3_column_double(st, i), EXP_FMT_SECONDS);
}

int exp_registry_list(exp_registry *reg, const char *name_glob, const char *status, FILE *out, wb_error *err)
{
    if (exp_registry_reap(reg, err) < 0) return -1;
    sqlite3_stmt *st = NULL, *m = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT id, status, started_utc, seconds, name, run, kind, source_id, source_run, cohort FROM runs "
                           "WHERE (?1 IS NULL OR name GLOB ?1) "
                           "AND (?2 IS NULL OR status = ?2) ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(reg->db,
                           "SELECT variant, value FROM metrics WHERE run_id = ?1 AND repeat = 0 AND level = 'image' "
                           "AND metric = 'auc' ORDER BY rowid",
                           -1, &m, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return db_fail(reg, err, "cannot read the registry");
    }
    if (name_glob) sqlite3_bind_text(st, 1, name_glob, -1, SQLITE_TRANSIENT);
    if (status) sqlite3_bind_text(st, 2, status, -1, SQLITE_TRANSIENT);
    fprintf(out, "%-5s %-9s %-20s %-14s %-16s %-40s %s\n", "ID", "STATUS", "STARTED (UTC)", "TIME", "NAME", "RUN",
            "IMAGE AUC (pooled, repeat 1)");
    int rows = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        char dur[32];
        fmt_duration(dur, sizeof dur, st, 3);
        fprintf(out, "%-5lld %-9s %-20s %-14s %-16s %-40s ", sqlite3_column_int64(st, 0), col(st, 1), col(st, 2), dur,
                col(st, 4), col(st, 5));
        sqlite3_reset(m);
        sqlite3_bind_int64(m, 1, sqlite3_column_int64(st, 0));
        int k = 0;
        while (sqlite3_step(m) == SQLITE_ROW) {
            char v[32];
            exp_report_fmt(v, sizeof v, sqlite3_column_type(m, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(m, 1),
                           EXP_FMT_METRIC);
            fprintf(out, "%s%s %s", k++ ? ", " : "", col(m, 0), v);
        }
        fprintf(out, "%s", k ? "" : "-");
        if (!strcmp(col(st, 6), "external_validation")) {
            if (sqlite3_column_type(st, 7) == SQLITE_NULL)
                fprintf(out, "  [external validation of %s (not in this registry) on %s]", col(st, 8), col(st, 9));
            else fprintf(out, "  [external validation of %lld on %s]", sqlite3_column_int64(st, 7), col(st, 9));
        }
        fprintf(out, "\n");
        rows++;
    }
    if (step != SQLITE_DONE) { /* a read error ends the listing: say so, not exit 0 */
        db_fail(reg, err, "cannot read the registry");
        sqlite3_finalize(st);
        sqlite3_finalize(m);
        return -1;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(m);
    if (!rows) fprintf(out, "(no runs%s)\n", name_glob || status ? " match" : " recorded yet");
    return 0;
}

/* The registry id of "12" or of a run directory name; 0 if there is none. */
static long long resolve(exp_registry *reg, const char *id)
{
    sqlite3_stmt *st = NULL;
    long long r = 0;
    char *end = NULL;
    long long num = strtoll(id, &end, 10);
    const char *sql = *id && end && *end == '\0' ? "SELECT id FROM runs WHERE id = ?1" : "SELECT id FROM runs WHERE run = ?2 ORDER BY id DESC LIMIT 1";
    if (sqlite3_prepare_v2(reg->db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
    if (*id && end && *end == '\0') sqlite3_bind_int64(st, 1, num);
    else sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) r = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return r;
}

/* The metric value or NAN. */
static double metric(exp_registry *reg, long long id, const char *variant, long repeat, const char *level, const char *name)
{
    sqlite3_stmt *st = NULL;
    double v = NAN;
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT value FROM metrics WHERE run_id=?1 AND variant=?2 AND repeat=?3 AND level=?4 AND metric=?5",
                           -1, &st, NULL) != SQLITE_OK)
        return NAN;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, variant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, repeat);
    sqlite3_bind_text(st, 4, level, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* which: 0 binary runs only, 1 both, 2 multi-class runs only (data.classes; their "auc" is
 * the one-vs-rest macro AUC) */
static const struct {
    const char *name, *label;
    exp_fmt_kind kind;
    int which;
} SHOWN[] = {{EXP_RD_M_AUC, "AUC", EXP_FMT_METRIC, 1},
             {EXP_RD_M_AP, "AP", EXP_FMT_METRIC, 0},
             {EXP_RD_M_SENSITIVITY, "sens", EXP_FMT_METRIC, 0},
             {EXP_RD_M_SPECIFICITY, "spec", EXP_FMT_METRIC, 0},
             {EXP_RD_M_BRIER, "Brier", EXP_FMT_METRIC, 0},
             {EXP_RD_M_ECE, "ECE", EXP_FMT_METRIC, 0},
             {EXP_RD_K_DELTA_AUC, "dAUC", EXP_FMT_DELTA, 1},
             {EXP_RD_K_DELONG_P, "p DeLong", EXP_FMT_P, 0},
             {EXP_RD_K_TTEST_P, "p t-test", EXP_FMT_P, 1},
             {EXP_RD_M_ACCURACY, "acc", EXP_FMT_METRIC, 2},
             {EXP_RD_M_BALANCED_ACCURACY, "bal. acc", EXP_FMT_METRIC, 2},
             {EXP_RD_M_F1_MACRO, "macro F1", EXP_FMT_METRIC, 2},
             {EXP_RD_M_LOG_LOSS, "log loss", EXP_FMT_METRIC, 2}};
enum { N_SHOWN = sizeof SHOWN / sizeof SHOWN[0] };

/* show: an external validation's source run and cohort; a run's external validations. */
static int show_links(exp_registry *reg, long long id, FILE *out, wb_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db, "SELECT kind, source_id, source_run, cohort FROM runs WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return db_fail(reg, err, "cannot read the registry");
    sqlite3_bind_int64(st, 1, id);
    int ext = 0;
    if (sqlite3_step(st) == SQLITE_ROW && !strcmp(col(st, 0), "external_validation")) {
        ext = 1;
        fprintf(out, "%-17s %s\n", "kind", "external validation (workbench predict)");
        if (sqlite3_column_type(st, 1) == SQLITE_NULL) fprintf(out, "%-17s %s (not in this registry)\n", "source run", col(st, 2));
        else fprintf(out, "%-17s %lld (%s)\n", "source run", sqlite3_column_int64(st, 1), col(st, 2));
        fprintf(out, "%-17s %s\n", "cohort", col(st, 3));
    }
    sqlite3_finalize(st);
    if (ext) return 0;
    if (sqlite3_prepare_v2(reg->db, "SELECT id, status, cohort, run FROM runs WHERE source_id = ?1 ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(reg, err, "cannot read the registry");
    sqlite3_bind_int64(st, 1, id);
    int k = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        fprintf(out, "%-17s %lld %s (%s) on %s\n", k++ ? "" : "external", sqlite3_column_int64(st, 0), col(st, 3), col(st, 1),
                col(st, 2));
    sqlite3_finalize(st);
    return 0;
}

int exp_registry_show(exp_registry *reg, const char *idstr, FILE *out, wb_error *err)
{
    if (exp_registry_reap(reg, err) < 0) return -1;
    long long id = resolve(reg, idstr);
    if (!id) return wb_err(err, WB_E_USAGE, reg->path, "no run '%s' in the registry (see workbench runs list)", idstr);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT id, run, dir, name, status, started_utc, ended_utc, seconds, config_hash, manifest_hash, "
                           "weights_hash, git_revision, host, pid, error FROM runs WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(reg, err, "cannot read the registry");
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return db_fail(reg, err, "cannot read the registry");
    }
    static const char *const labels[] = {"id", "run", "directory", "name", "status", "started (UTC)", "ended (UTC)",
                                         "wall time", "config SHA-256", "manifest SHA-256", "weights SHA-256",
                                         "git revision", "host", "pid", "error"};
    for (int i = 0; i < 15; i++) {
        char dur[32];
        const char *v = col(st, i);
        if (i == 7) fmt_duration(dur, sizeof dur, st, i), v = dur;
        if (i == 14 && !*v) continue;
        fprintf(out, "%-17s %s\n", labels[i], *v ? v : "-");
    }
    sqlite3_finalize(st);
    if (show_links(reg, id, out, err) != 0) return -1;
    sqlite3_stmt *m = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT DISTINCT variant, repeat, level FROM metrics WHERE run_id = ?1 AND level != 'model' "
                           "ORDER BY repeat, level DESC, rowid",
                           -1, &m, NULL) != SQLITE_OK)
        return db_fail(reg, err, "cannot read the registry");
    sqlite3_bind_int64(m, 1, id);
    int rows = 0, step;
    /* a multi-class run shows its own columns */
    int skip = 2;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(reg->db, "SELECT 1 FROM metrics WHERE run_id = ?1 AND metric = 'f1_macro' LIMIT 1", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, id);
        if (sqlite3_step(q) == SQLITE_ROW) skip = 0;
    }
    sqlite3_finalize(q);
    while ((step = sqlite3_step(m)) == SQLITE_ROW) {
        if (!rows++) {
            fprintf(out, "\n%-16s %-6s %-6s %8s", "VARIANT", "REPEAT", "LEVEL", "PARAMS");
            for (int k = 0; k < N_SHOWN; k++)
                if (SHOWN[k].which != skip) fprintf(out, " %9s", SHOWN[k].label);
            fprintf(out, "\n");
        }
        char v[32];
        exp_report_fmt(v, sizeof v, metric(reg, id, col(m, 0), 0, "model", "trainable_params"), EXP_FMT_COUNT);
        fprintf(out, "%-16s %-6lld %-6s %8s", col(m, 0), sqlite3_column_int64(m, 1) + 1, col(m, 2), v);
        for (int k = 0; k < N_SHOWN; k++) {
            if (SHOWN[k].which == skip) continue;
            exp_report_fmt(v, sizeof v, metric(reg, id, col(m, 0), (long)sqlite3_column_int64(m, 1), col(m, 2), SHOWN[k].name),
                           SHOWN[k].kind);
            fprintf(out, " %9s", v);
        }
        fprintf(out, "\n");
    }
    if (step != SQLITE_DONE) {
        db_fail(reg, err, "cannot read the registry");
        sqlite3_finalize(m);
        return -1;
    }
    sqlite3_finalize(m);
    if (!rows) fprintf(out, "\n(no metrics: the run did not finish)\n");
    return 0;
}

/* The resolved config stored for run id, flattened. */
static int run_config(exp_registry *reg, long long id, exp_flat *fl, wb_error *err)
{
    sqlite3_stmt *st = NULL;
    memset(fl, 0, sizeof *fl);
    if (sqlite3_prepare_v2(reg->db, "SELECT config, run FROM runs WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
        return db_fail(reg, err, "cannot read the registry");
    sqlite3_bind_int64(st, 1, id);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = col(st, 0);
        rc = exp_flat_parse(t, strlen(t), col(st, 1), fl, err);
    }
    sqlite3_finalize(st);
    return rc;
}

enum { EXT_MAXC = 16 };

/* compare with an external validation among the rows: internal CV (a run's pooled
 * out-of-fold metrics, repeat 1, image level) against external results, metric by metric, for
 * every variant an external validation measured (the network ensemble and the reference). */
static int compare_external(exp_registry *reg, const long long *id, int n, FILE *out, wb_error *err)
{
    static const struct {
        const char *name, *label;
        exp_fmt_kind kind;
    } ROWS[] = {{EXP_RD_M_AUC, "AUC [95% CI]", EXP_FMT_METRIC},     {EXP_RD_M_SENSITIVITY, "sensitivity", EXP_FMT_METRIC},
                {EXP_RD_M_SPECIFICITY, "specificity", EXP_FMT_METRIC}, {EXP_RD_M_THRESHOLD, "threshold", EXP_FMT_METRIC},
                {EXP_RD_M_BRIER, "Brier", EXP_FMT_METRIC},            {EXP_RD_M_ECE, "ECE", EXP_FMT_METRIC},
                {EXP_RD_M_N, "n", EXP_FMT_COUNT},                     {EXP_RD_M_N_POSITIVE, "n positive", EXP_FMT_COUNT},
                {EXP_RD_K_DELTA_AUC, "dAUC vs ref.", EXP_FMT_DELTA},  {EXP_RD_K_DELONG_P, "p DeLong", EXP_FMT_P}};
    /* the column heads: what each row is */
    char head[EXT_MAXC][2][96];
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db, "SELECT kind, run, cohort FROM runs WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
        return db_fail(reg, err, "cannot read the registry");
    for (int i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, id[i]);
        int ext = sqlite3_step(st) == SQLITE_ROW && !strcmp(col(st, 0), "external_validation");
        snprintf(head[i][0], sizeof head[i][0], "%lld %s", id[i], ext ? "external" : "internal CV");
        const char *what = ext ? col(st, 2) : col(st, 1);
        const char *slash = strrchr(what, '/');
        /* a cohort's labels file is named by its directory */
        if (ext && slash && slash > what) {
            const char *a = slash - 1;
            while (a > what && a[-1] != '/') a--;
            snprintf(head[i][1], sizeof head[i][1], "%.*s", (int)(slash - a), a);
        } else {
            snprintf(head[i][1], sizeof head[i][1], "%s", what);
        }
    }
    sqlite3_finalize(st);
    fprintf(out, "%-16s %-13s", "", "");
    for (int i = 0; i < n; i++) fprintf(out, " %-30.30s", head[i][0]);
    fprintf(out, "\n%-16s %-13s", "VARIANT", "METRIC");
    for (int i = 0; i < n; i++) fprintf(out, " %-30.30s", head[i][1]);
    fprintf(out, "\n");
    /* the variants the external rows measured, in their order */
    sbuf in = {0}, sql = {0};
    for (int i = 0; i < n; i++) sb_printf(&in, "%s%lld", i ? "," : "", id[i]);
    sb_printf(&sql, "SELECT variant, MIN(metrics.rowid) AS first FROM metrics JOIN runs ON runs.id = metrics.run_id "
                    "WHERE runs.kind = 'external_validation' AND run_id IN (%s) AND repeat = 0 AND level = 'image' "
                    "GROUP BY variant ORDER BY first", in.s ? in.s : "0");
    sqlite3_stmt *v = NULL;
    int rc = 0;
    if (sql.oom || in.oom || sqlite3_prepare_v2(reg->db, sql.s, -1, &v, NULL) != SQLITE_OK)
        rc = db_fail(reg, err, "cannot read the registry");
    while (!rc && sqlite3_step(v) == SQLITE_ROW) {
        const char *vn = col(v, 0);
        for (size_t k = 0; k < sizeof ROWS / sizeof ROWS[0]; k++) {
            char cell[EXT_MAXC][48];
            int any = 0;
            for (int i = 0; i < n; i++) {
                double x = metric(reg, id[i], vn, 0, EXP_RD_LEVEL_IMAGE, ROWS[k].name);
                any |= !isnan(x);
                exp_report_fmt(cell[i], sizeof cell[i], x, ROWS[k].kind);
                if (k == 0 && !isnan(x)) {
                    char lo[24], hi[24];
                    exp_report_fmt(lo, sizeof lo, metric(reg, id[i], vn, 0, EXP_RD_LEVEL_IMAGE, EXP_RD_M_AUC_CI_LOW), EXP_FMT_METRIC);
                    exp_report_fmt(hi, sizeof hi, metric(reg, id[i], vn, 0, EXP_RD_LEVEL_IMAGE, EXP_RD_M_AUC_CI_HIGH), EXP_FMT_METRIC);
                    size_t l = strlen(cell[i]);
                    snprintf(cell[i] + l, sizeof cell[i] - l, " [%s, %s]", lo, hi);
                }
            }
            if (!any) continue;
            fprintf(out, "%-16s %-13s", vn, ROWS[k].label);
            for (int i = 0; i < n; i++) fprintf(out, " %-30s", cell[i]);
            fprintf(out, "\n");
        }
    }
    sqlite3_finalize(v);
    sb_free(&in);
    sb_free(&sql);
    if (!rc)
        fprintf(out, "\ninternal: the run's own held-out predictions (pooled out-of-fold, or the test rows of a fixed "
                     "split; repeat 1, image level); external: the bundle's fold ensemble on the cohort, at the run's "
                     "thresholds\n");
    return rc;
}

/* compare of one id: a run with its external validations, or an external validation with
 * its source run. */
static int compare_one(exp_registry *reg, const char *idstr, FILE *out, wb_error *err)
{
    long long id = resolve(reg, idstr);
    if (!id) return wb_err(err, WB_E_USAGE, reg->path, "no run '%s' in the registry (see workbench runs list)", idstr);
    long long ids[EXT_MAXC];
    int n = 0;
    char kind[32];
    row_kind(reg, id, kind, sizeof kind);
    long long src = !strcmp(kind, "external_validation") ? exp_registry_source(reg, id) : id;
    if (src <= 0)
        return wb_err(err, WB_E_USAGE, reg->path, "run %s is an external validation whose source run is not in this "
                      "registry: nothing to compare it with", idstr);
    ids[n++] = src;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db, "SELECT id FROM runs WHERE source_id = ?1 ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return db_fail(reg, err, "cannot read the registry");
    sqlite3_bind_int64(st, 1, src);
    while (n < EXT_MAXC && sqlite3_step(st) == SQLITE_ROW)
        if (src == id || sqlite3_column_int64(st, 0) == id) ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (n < 2)
        return wb_err(err, WB_E_USAGE, reg->path, "run %s has no external validation in this registry (workbench predict "
                      "records them); compare takes 2 or more runs otherwise", idstr);
    return compare_external(reg, ids, n, out, err);
}

int exp_registry_compare(exp_registry *reg, const char *const *ids, int n, FILE *out, wb_error *err)
{
    if (exp_registry_reap(reg, err) < 0) return -1;
    enum { MAXC = 16 };
    if (n == 1) return compare_one(reg, ids[0], out, err);
    if (n < 2 || n > MAXC) return wb_err(err, WB_E_USAGE, reg->path, "compare takes 1 to %d runs", MAXC);
    long long id[MAXC];
    for (int i = 0; i < n; i++)
        if (!(id[i] = resolve(reg, ids[i])))
            return wb_err(err, WB_E_USAGE, reg->path, "no run '%s' in the registry (see workbench runs list)", ids[i]);
    int any_external = 0;
    for (int i = 0; i < n; i++) {
        char kind[32];
        row_kind(reg, id[i], kind, sizeof kind);
        any_external |= !strcmp(kind, "external_validation");
    }
    if (any_external) return compare_external(reg, id, n, out, err);
    /* metrics: every (variant, level) of any of the runs, repeat 1 */
    fprintf(out, "%-16s %-6s %-9s", "VARIANT", "LEVEL", "METRIC");
    for (int i = 0; i < n; i++) fprintf(out, " %10s", ids[i]);
    fprintf(out, "\n");
    sqlite3_stmt *m = NULL;
    sbuf in = {0};
    for (int i = 0; i < n; i++) sb_printf(&in, "%s%lld", i ? "," : "", id[i]);
    sbuf sql = {0};
    sb_printf(&sql, "SELECT variant, level, MIN(rowid) AS first FROM metrics WHERE repeat = 0 AND level != 'model' AND "
                    "run_id IN (%s) GROUP BY variant, level ORDER BY level DESC, first", in.s ? in.s : "0");
    int rc = 0;
    if (sql.oom || in.oom || sqlite3_prepare_v2(reg->db, sql.s, -1, &m, NULL) != SQLITE_OK) rc = db_fail(reg, err, "cannot read the registry");
    while (!rc && sqlite3_step(m) == SQLITE_ROW)
        for (int k = 0; k < N_SHOWN; k++) {
            /* a metric no run has (the reference's own ΔAUC and p-values) gets no row */
            double vals[MAXC];
            int any = 0;
            for (int i = 0; i < n; i++) {
                vals[i] = metric(reg, id[i], col(m, 0), 0, col(m, 1), SHOWN[k].name);
                any |= !isnan(vals[i]);
            }
            if (!any) continue;
            fprintf(out, "%-16s %-6s %-9s", col(m, 0), col(m, 1), SHOWN[k].label);
            for (int i = 0; i < n; i++) {
                char v[32];
                exp_report_fmt(v, sizeof v, vals[i], SHOWN[k].kind);
                fprintf(out, " %10s", v);
            }
            fprintf(out, "\n");
        }
    sqlite3_finalize(m);
    sb_free(&sql);
    sb_free(&in);
    if (rc) return rc;
    /* config differences: keys whose values are not the same in every run */
    exp_flat fl[MAXC];
    memset(fl, 0, sizeof fl);
    for (int i = 0; i < n && !rc; i++) rc = run_config(reg, id[i], &fl[i], err);
    int diffs = 0;
    for (int i = 0; i < n && !rc; i++)
        for (size_t k = 0; k < fl[i].n; k++) {
            const char *key = fl[i].keys[k];
            int seen_before = 0, differs = 0;
            for (int j = 0; j < i; j++) seen_before |= exp_flat_get(&fl[j], key) != NULL;
            if (seen_before) continue;
            for (int j = 0; j < n; j++) {
                const char *v = exp_flat_get(&fl[j], key);
                differs |= !v || strcmp(v, fl[i].values[k]);
            }
            if (!differs) continue;
            if (!diffs++) fprintf(out, "\nconfig differences:\n");
            fprintf(out, "  %s\n", key);
            for (int j = 0; j < n; j++) {
                const char *v = exp_flat_get(&fl[j], key);
                fprintf(out, "    %-10s %s\n", ids[j], v ? v : "(absent)");
            }
        }
    if (!rc && !diffs) fprintf(out, "\nconfig differences: none (the same resolved config)\n");
    for (int i = 0; i < n; i++) exp_flat_free(&fl[i]);
    return rc;
}
