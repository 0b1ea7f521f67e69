/* CTC prefix beam search in C: the search of sparkhtr.text.ctc.beam_decode, step for step, so that
 * both read the same texts with the same frame spans. Python prepares three read-only tables once
 * (the character LM, the lexicon, the charset's per-class facts: sparkhtr/text/fast_beam.py), and
 * `decode` runs one line without the GIL, so threads decode lines in parallel.
 *
 * Exactness: every score is computed with the same double operations in the same order as the
 * Python code (no -ffast-math, no FMA contraction: setup.py), ties are broken as heapq.nlargest and
 * dict order break them there, and libm's exp/log1p/log are the ones CPython's math module calls. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY UINT64_MAX
#define FNV_BASIS 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

/* ---- an open-addressing table of u64 keys -> i64 values (linear probing, size a power of 2) ---- */

typedef struct {
    uint64_t key;
    int64_t value;
} Slot; /* key and value side by side: one cache line per probe in the LM's large tables */

typedef struct {
    Slot *slots;
    uint64_t mask;
    int64_t used;
} Table;

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static int table_init(Table *t, int64_t count) {
    uint64_t size = 16;
    while (size < (uint64_t)count * 2 + 16) size <<= 1;
    t->slots = malloc(size * sizeof(Slot));
    t->mask = size - 1;
    t->used = 0;
    if (t->slots == NULL) return -1;
    for (uint64_t i = 0; i < size; i++) t->slots[i].key = EMPTY;
    return 0;
}

static void table_free(Table *t) {
    free(t->slots);
    t->slots = NULL;
}

static void table_set(Table *t, uint64_t key, int64_t value) {
    uint64_t i = mix(key) & t->mask;
    while (t->slots[i].key != EMPTY && t->slots[i].key != key) i = (i + 1) & t->mask;
    if (t->slots[i].key == EMPTY) t->used++;
    t->slots[i].key = key;
    t->slots[i].value = value;
}

static int64_t table_get(const Table *t, uint64_t key, int64_t missing) {
    uint64_t i = mix(key) & t->mask;
    while (t->slots[i].key != EMPTY) {
        if (t->slots[i].key == key) return t->slots[i].value;
        i = (i + 1) & t->mask;
    }
    return missing;
}

/* table_set for a table that grows: kept at most half full. */
static int table_set_growing(Table *t, uint64_t key, int64_t value) {
    if ((uint64_t)(t->used + 1) * 2 > t->mask + 1) {
        Table bigger;
        if (table_init(&bigger, t->used + 1) < 0) {
            table_free(&bigger);
            return -1;
        }
        for (uint64_t i = 0; i <= t->mask; i++)
            if (t->slots[i].key != EMPTY) table_set(&bigger, t->slots[i].key, t->slots[i].value);
        table_free(t);
        *t = bigger;
    }
    table_set(t, key, value);
    return 0;
}

/* ---- the three prepared tables, each held by a capsule ---- */

typedef struct {
    uint64_t *keys; /* word hash (EMPTY-free) per slot */
    int64_t *word;  /* word index per slot */
    uint64_t mask;
    int32_t *cps;   /* every word's lower-case code points, one after the other */
    int64_t *offsets;
} Lex;

typedef struct {
    int64_t classes;
    int64_t *lm_id;       /* each class's character id in the LM */
    uint8_t *alpha, *hyphen;
    int32_t *lower;       /* each class's lower-case code points */
    int64_t *lower_at;    /* class c's are lower[lower_at[c] .. lower_at[c + 1]] */
} Classes;

static void lex_free(PyObject *capsule) {
    Lex *lex = PyCapsule_GetPointer(capsule, "sparkhtr._beam.Lex");
    if (lex == NULL) return;
    free(lex->keys);
    free(lex->word);
    free(lex->cps);
    free(lex->offsets);
    free(lex);
}

static void classes_free(PyObject *capsule) {
    Classes *cl = PyCapsule_GetPointer(capsule, "sparkhtr._beam.Classes");
    if (cl == NULL) return;
    free(cl->lm_id);
    free(cl->alpha);
    free(cl->hyphen);
    free(cl->lower);
    free(cl->lower_at);
    free(cl);
}

static void *copy_of(const Py_buffer *b) {
    void *out = malloc(b->len > 0 ? (size_t)b->len : 1);
    if (out != NULL && b->len > 0) memcpy(out, b->buf, (size_t)b->len);
    return out;
}

static uint64_t word_hash_step(uint64_t hash, int32_t cp) {
    return (hash ^ (uint32_t)cp) * FNV_PRIME;
}

static uint64_t as_key(uint64_t hash) {
    return hash == EMPTY ? EMPTY - 1 : hash;
}

static PyObject *lex_new(PyObject *self, PyObject *args) {
    Py_buffer cps, offsets;
    if (!PyArg_ParseTuple(args, "y*y*", &cps, &offsets)) return NULL;
    PyObject *result = NULL;
    int64_t words = offsets.len / (Py_ssize_t)sizeof(int64_t) - 1;
    uint64_t size = 16;
    while (size * 7 < (uint64_t)(words > 0 ? words : 0) * 10 + 16) size <<= 1; /* at most 70 % full */
    Lex *lex = calloc(1, sizeof(Lex));
    if (lex != NULL) {
        lex->keys = malloc(size * sizeof(uint64_t));
        lex->word = malloc(size * sizeof(int64_t));
        lex->cps = copy_of(&cps);
        lex->offsets = copy_of(&offsets);
    }
    if (lex == NULL || lex->keys == NULL || lex->word == NULL || lex->cps == NULL || lex->offsets == NULL) {
        if (lex != NULL) {
            free(lex->keys);
            free(lex->word);
            free(lex->cps);
            free(lex->offsets);
            free(lex);
        }
        PyErr_NoMemory();
        goto done;
    }
    lex->mask = size - 1;
    memset(lex->keys, 0xff, size * sizeof(uint64_t));
    for (int64_t w = 0; w < words; w++) {
        uint64_t hash = FNV_BASIS;
        for (int64_t k = lex->offsets[w]; k < lex->offsets[w + 1]; k++) hash = word_hash_step(hash, lex->cps[k]);
        uint64_t key = as_key(hash), i = mix(key) & lex->mask;
        while (lex->keys[i] != EMPTY) i = (i + 1) & lex->mask; /* equal hashes may share: checked on lookup */
        lex->keys[i] = key;
        lex->word[i] = w;
    }
    result = PyCapsule_New(lex, "sparkhtr._beam.Lex", lex_free);
done:
    PyBuffer_Release(&cps);
    PyBuffer_Release(&offsets);
    return result;
}

static PyObject *classes_new(PyObject *self, PyObject *args) {
    Py_buffer lm_id, alpha, hyphen, lower, lower_at;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*", &lm_id, &alpha, &hyphen, &lower, &lower_at)) return NULL;
    PyObject *result = NULL;
    Classes *cl = calloc(1, sizeof(Classes));
    if (cl != NULL) {
        cl->classes = alpha.len;
        cl->lm_id = copy_of(&lm_id);
        cl->alpha = copy_of(&alpha);
        cl->hyphen = copy_of(&hyphen);
        cl->lower = copy_of(&lower);
        cl->lower_at = copy_of(&lower_at);
    }
    if (cl == NULL || !cl->lm_id || !cl->alpha || !cl->hyphen || !cl->lower || !cl->lower_at) {
        if (cl != NULL) {
            free(cl->lm_id);
            free(cl->alpha);
            free(cl->hyphen);
            free(cl->lower);
            free(cl->lower_at);
            free(cl);
        }
        PyErr_NoMemory();
    } else {
        result = PyCapsule_New(cl, "sparkhtr._beam.Classes", classes_free);
    }
    PyBuffer_Release(&lm_id);
    PyBuffer_Release(&alpha);
    PyBuffer_Release(&hyphen);
    PyBuffer_Release(&lower);
    PyBuffer_Release(&lower_at);
    return result;
}

#include "_beam_lm.h"
#include "_beam_search.h"

static PyMethodDef methods[] = {
    {"lm_new", lm_new, METH_VARARGS, "The LM's tables: see _beam_lm.h."},
    {"lex_new", lex_new, METH_VARARGS, "The lexicon's table: its words' code points and their offsets."},
    {"classes_new", classes_new, METH_VARARGS, "Per class: LM character id, is a letter, is a hyphen, lower-case code points."},
    {"decode", decode, METH_VARARGS, "One line's prefix beam search; the best text's (label, first, last) frame spans."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_beam", "Compiled CTC prefix beam search.", -1, methods};

PyMODINIT_FUNC PyInit__beam(void) {
    return PyModule_Create(&module);
}
