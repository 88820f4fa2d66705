/* fixtures.h — the weights of tests/nets/make_fixtures.py, generated again in C: a
 * counter-based hash (splitmix64 keyed by FNV-1a of the tensor name ^ GEN_SEED), so fixtures
 * need not store them; and the fixture files' reader. Used by test_fixtures.c and test_grey.c. */
#ifndef NN_TEST_FIXTURES_H
#define NN_TEST_FIXTURES_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/wb_tensor.h"
#include "nets/nn.h"

#define GEN_SEED 2024ull /* make_fixtures.py SEED */

static inline uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static inline int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }
static inline int ends_with(const char *s, const char *x)
{
    size_t a = strlen(s), b = strlen(x);
    return a >= b && strcmp(s + a - b, x) == 0;
}

/* The rule of make_fixtures.py gen_spec. */
static inline void gen_spec(const char *name, int ndim, const int64_t *shape, float *scale, float *off)
{
    *off = 0.0f;
    if (ends_with(name, "running_mean") || ends_with(name, "/moving_mean:0"))
        *scale = 0.2f;
    else if (ends_with(name, "running_var") || ends_with(name, "/moving_variance:0"))
        *scale = 0.5f, *off = 1.0f;
    else if (ndim == 4)
        *scale = (float)sqrt(6.0 / (double)(shape[1] * shape[2] * shape[3]));
    else if (ndim == 2)
        *scale = (float)(1.0 / sqrt((double)shape[1]));
    else if (starts_with(name, "fc.") || starts_with(name, "linear."))
        *scale = 0.1f;
    else if (ends_with(name, ".bn3.weight")) /* ResNet-50: each bottleneck's last BN */
        *scale = 0.05f, *off = 0.1f;
    else if (ends_with(name, ".weight") || ends_with(name, "/gamma:0"))
        *scale = 0.5f, *off = 1.0f;
    else
        *scale = 0.2f;
}

/* make_fixtures.py gen_tensor: (2u - 1) * scale + off, u from nn_rng keyed by the name. */
static inline void gen_values(const char *name, size_t numel, float scale, float off, float *d)
{
    nn_rng r;
    nn_rng_seed(&r, fnv1a(name) ^ GEN_SEED);
    for (size_t k = 0; k < numel; k++) {
        float u = nn_rng_uniform(&r);
        float x = (2.0f * u - 1.0f) * scale;
        if (off != 0.0f)
            x = x + off;
        d[k] = x;
    }
}

/* Generates every tensor of net in the engine's layout (as PyTorch holds them) and exports
 * them into l under the home framework's names and layout, ready to bind by name. */
static inline int gen_weights(nn_net *net, wb_tensor_list *l)
{
    wb_error err = {0};
    for (size_t i = 0; i < nn_net_num_tensors(net); i++) {
        nn_param_view v;
        nn_net_tensor(net, i, &v);
        int64_t shape[4];
        for (int k = 0; k < v.ndim; k++)
            shape[k] = v.shape[k];
        float scale, off;
        gen_spec(v.name, v.ndim, shape, &scale, &off);
        gen_values(v.name, v.numel, scale, off, v.data);
    }
    if (nn_net_export(net, l, &err) != 0) {
        fprintf(stderr, "export: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* A fixture of make_fixtures.py: <name>.txt ("record count" lines) over <name>.bin. */
typedef struct {
    char name[200];
    size_t n;
    float *v;
} rec;

typedef struct {
    rec *r;
    size_t n;
    float *blob;
} fixture;

static inline int fixture_load(const char *dir, const char *name, fixture *f)
{
    char path[1024];
    memset(f, 0, sizeof *f);
    snprintf(path, sizeof path, "%s/%s.txt", dir, name);
    FILE *ti = fopen(path, "r");
    if (!ti) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    size_t cap = 0, total = 0;
    char line[512];
    while (fgets(line, sizeof line, ti)) {
        if (f->n == cap) {
            cap = cap ? 2 * cap : 256;
            f->r = realloc(f->r, sizeof *f->r * cap);
        }
        rec *r = &f->r[f->n];
        if (sscanf(line, "%199s %zu", r->name, &r->n) != 2)
            continue;
        total += r->n;
        f->n++;
    }
    fclose(ti);
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    FILE *tb = fopen(path, "rb");
    f->blob = malloc(sizeof(float) * (total ? total : 1));
    if (!tb || fread(f->blob, sizeof(float), total, tb) != total) {
        fprintf(stderr, "cannot read %zu floats from %s\n", total, path);
        if (tb)
            fclose(tb);
        return -1;
    }
    fclose(tb);
    size_t off = 0;
    for (size_t i = 0; i < f->n; i++) {
        f->r[i].v = f->blob + off;
        off += f->r[i].n;
    }
    return 0;
}

static inline void fixture_free(fixture *f)
{
    free(f->r);
    free(f->blob);
}

static inline const rec *find(const fixture *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->r[i].name, name) == 0)
            return &f->r[i];
    return NULL;
}

#endif
