/* The character LM of lm.py as a trie of its contexts with suffix links, included by _beam.c.
 *
 * lm.py computes P(char | history) by walking the history's suffixes from the empty one up to the
 * longest seen context, interpolating at each: prob = (count + distinct * prob) / (total + distinct).
 * Here each seen (context, char) keeps that walk's value up to its context (computed once, when
 * the LM is loaded, by the same operations), so a query starts at the history's longest context
 * (its state, kept per text) and only walks down to the first context that saw the char, then
 * back up through the ones that did not: usually one probe instead of one per order.
 *
 * Python prepares contexts closed under taking suffixes and prefixes (fast_beam.py), as trained
 * and pruned models are; then the state of history + char follows from the history's state by
 * suffix links (Aho-Corasick), and equals lm.py's longest context. */

typedef struct {
    uint64_t key; /* node * nchars + char */
    double prob;  /* the walk's value up to node when count > 0 */
    int32_t child; /* node of context + char, -1 if none */
    int32_t seen;
} Entry;

typedef struct {
    int order;
    double vocab_size;
    int64_t nchars, line_start, line_end, nodes;
    int32_t *link, *depth; /* node of the context less its oldest char; its length */
    int64_t *totals, *distinct;
    Entry *entries;
    uint64_t mask;
    int32_t start; /* the state of the empty text: its history is all line starts */
} LM;

static const Entry *lm_entry(const LM *lm, int32_t node, int64_t ch) {
    uint64_t key = (uint64_t)node * (uint64_t)lm->nchars + (uint64_t)ch, i = mix(key) & lm->mask;
    for (; lm->entries[i].key != EMPTY; i = (i + 1) & lm->mask)
        if (lm->entries[i].key == key) return &lm->entries[i];
    return NULL;
}

/* lm.py's walk for ch, up to context `node` (its value before the log). */
static double lm_prob(const LM *lm, int32_t node, int64_t ch) {
    if (lm->nodes == 0) return 1.0 / lm->vocab_size; /* no context seen, not even the empty one */
    int32_t unseen[64];
    int depth = 0;
    double prob = 1.0 / lm->vocab_size;
    for (int32_t at = node; at >= 0; at = lm->link[at]) {
        const Entry *e = lm_entry(lm, at, ch);
        if (e != NULL && e->seen) {
            prob = e->prob;
            break;
        }
        unseen[depth++] = at;
    }
    while (depth > 0) {
        int32_t at = unseen[--depth];
        prob = ((double)0 + (double)lm->distinct[at] * prob) / (double)(lm->totals[at] + lm->distinct[at]);
    }
    return prob;
}

/* The state after `state` (a context node) when ch follows: the longest context ending the new history. */
static int32_t lm_next(const LM *lm, int32_t state, int64_t ch) {
    if (lm->nodes == 0) return -1;
    if (lm->order == 1) return 0; /* only the empty context */
    if (lm->depth[state] == lm->order - 1) state = lm->link[state]; /* the oldest char leaves the history */
    for (;;) {
        const Entry *e = lm_entry(lm, state, ch);
        if (e != NULL && e->child >= 0) return e->child;
        if (state == 0) return 0;
        state = lm->link[state];
    }
}

static void lm_release(LM *lm) {
    free(lm->link);
    free(lm->depth);
    free(lm->totals);
    free(lm->distinct);
    free(lm->entries);
    free(lm);
}

static void lm_free(PyObject *capsule) {
    LM *lm = PyCapsule_GetPointer(capsule, "sparkhtr._beam.LM");
    if (lm != NULL) lm_release(lm);
}

/* lm_new(order, vocab size, nchars, line start id, line end id, link, depth, totals, distinct,
 * entry keys, entry counts, entry children): nodes numbered shortest context first, entries in
 * node order, so every value a walk needs is computed before it is needed. */
static PyObject *lm_new(PyObject *self, PyObject *args) {
    int order;
    double vocab_size;
    long long nchars, line_start, line_end;
    Py_buffer link, depth, tot, dis, keys, counts, children;
    if (!PyArg_ParseTuple(args, "idLLLy*y*y*y*y*y*y*", &order, &vocab_size, &nchars, &line_start, &line_end, &link,
                          &depth, &tot, &dis, &keys, &counts, &children))
        return NULL;
    PyObject *result = NULL;
    int64_t nodes = tot.len / (Py_ssize_t)sizeof(int64_t), count = keys.len / (Py_ssize_t)sizeof(int64_t);
    uint64_t size = 16;
    while (size * 7 < (uint64_t)count * 10 + 16) size <<= 1; /* at most 70 % full */
    LM *lm = calloc(1, sizeof(LM));
    if (lm != NULL) {
        *lm = (LM){order, vocab_size, nchars, line_start, line_end, nodes, copy_of(&link), copy_of(&depth),
                   copy_of(&tot), copy_of(&dis), malloc(size * sizeof(Entry)), size - 1, 0};
    }
    if (lm == NULL || !lm->link || !lm->depth || !lm->totals || !lm->distinct || !lm->entries) {
        if (lm != NULL) lm_release(lm);
        PyErr_NoMemory();
        goto done;
    }
    for (uint64_t i = 0; i < size; i++) lm->entries[i].key = EMPTY;
    const int64_t *key = keys.buf, *seen = counts.buf, *child = children.buf;
    for (int64_t n = 0; n < count; n++) {
        uint64_t i = mix((uint64_t)key[n]) & lm->mask;
        while (lm->entries[i].key != EMPTY) i = (i + 1) & lm->mask;
        int32_t node = (int32_t)((uint64_t)key[n] / (uint64_t)nchars);
        int64_t ch = (int64_t)((uint64_t)key[n] % (uint64_t)nchars);
        double prob = 0.0;
        if (seen[n] > 0) { /* lm.py's step at this context, from the walk up to the one below */
            double below = node == 0 ? 1.0 / vocab_size : lm_prob(lm, lm->link[node], ch);
            prob = ((double)seen[n] + (double)lm->distinct[node] * below) / (double)(lm->totals[node] + lm->distinct[node]);
        }
        lm->entries[i] = (Entry){(uint64_t)key[n], prob, (int32_t)child[n], seen[n] > 0};
    }
    int32_t state = nodes > 0 ? 0 : -1;
    for (int k = 0; k < order - 1 && nodes > 0; k++) state = lm_next(lm, state, line_start);
    lm->start = state;
    result = PyCapsule_New(lm, "sparkhtr._beam.LM", lm_free);
done:
    PyBuffer_Release(&link);
    PyBuffer_Release(&depth);
    PyBuffer_Release(&tot);
    PyBuffer_Release(&dis);
    PyBuffer_Release(&keys);
    PyBuffer_Release(&counts);
    PyBuffer_Release(&children);
    return result;
}
