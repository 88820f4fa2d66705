/* fixture.h — reads the text fixtures that make_fixtures.py writes:
 *
 *     case NAME
 *     key COUNT v1 v2 ...
 *     end
 *
 * fx_load reads a whole file; fx_case finds a case, fx_get the first entry with a key (NULL if
 * absent), and a case's entries stay in file order for keys that repeat. Test code only: it
 * exits on a malformed fixture, since that is a broken checkout, not a result.
 */
#ifndef EXP_TEST_FIXTURE_H
#define EXP_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx_entry {
    char key[64];
    size_t n;
    double *v;
} fx_entry;

typedef struct fx_case {
    char name[64];
    size_t n;
    fx_entry *e;
} fx_case;

typedef struct fx_file {
    size_t n;
    fx_case *c;
} fx_file;

static inline void fx_die(const char *path, const char *what)
{
    fprintf(stderr, "fixture %s: %s\n", path, what);
    exit(2);
}

static inline void *fx_grow(void *p, size_t n, size_t size)
{
    void *q = realloc(p, n * size);
    if (!q) {
        fprintf(stderr, "fixture: out of memory\n");
        exit(2);
    }
    return q;
}

static inline fx_file fx_load(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        fx_die(path, "cannot open (run tests from ctest, which passes the fixture directory)");
    fx_file F = {0, NULL};
    fx_case *cur = NULL;
    char word[64];
    while (fscanf(f, "%63s", word) == 1) {
        if (word[0] == '#') {
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n')
                ;
        } else if (strcmp(word, "case") == 0) {
            F.c = fx_grow(F.c, F.n + 1, sizeof *F.c);
            cur = &F.c[F.n++];
            memset(cur, 0, sizeof *cur);
            if (fscanf(f, "%63s", cur->name) != 1)
                fx_die(path, "case without a name");
        } else if (strcmp(word, "end") == 0) {
            cur = NULL;
        } else {
            if (!cur)
                fx_die(path, "entry outside a case");
            cur->e = fx_grow(cur->e, cur->n + 1, sizeof *cur->e);
            fx_entry *e = &cur->e[cur->n++];
            snprintf(e->key, sizeof e->key, "%s", word);
            if (fscanf(f, "%zu", &e->n) != 1)
                fx_die(path, "entry without a count");
            e->v = fx_grow(NULL, e->n ? e->n : 1, sizeof *e->v);
            for (size_t i = 0; i < e->n; i++) {
                char num[64];
                if (fscanf(f, "%63s", num) != 1)
                    fx_die(path, "truncated entry");
                e->v[i] = strtod(num, NULL);
            }
        }
    }
    fclose(f);
    return F;
}

static inline void fx_free(fx_file *F)
{
    for (size_t i = 0; i < F->n; i++) {
        for (size_t j = 0; j < F->c[i].n; j++)
            free(F->c[i].e[j].v);
        free(F->c[i].e);
    }
    free(F->c);
    F->c = NULL;
    F->n = 0;
}

static inline const fx_case *fx_case_get(const fx_file *F, const char *name)
{
    for (size_t i = 0; i < F->n; i++)
        if (strcmp(F->c[i].name, name) == 0)
            return &F->c[i];
    fprintf(stderr, "fixture: no case '%s'\n", name);
    exit(2);
}

static inline const fx_entry *fx_get(const fx_case *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].key, key) == 0)
            return &c->e[i];
    return NULL;
}

/* The entry's values as ints (caller frees). */
static inline int *fx_ints(const fx_entry *e)
{
    int *r = fx_grow(NULL, e->n ? e->n : 1, sizeof *r);
    for (size_t i = 0; i < e->n; i++)
        r[i] = (int)e->v[i];
    return r;
}

#endif
