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

#define NO_KEY UINT32_MAX

typedef struct {
    uint32_t key;  /* node * nchars + char, below NO_KEY (fast_beam.py checks) */
    int32_t child; /* node of context + char, -1 if none */
    double prob;   /* the walk's value up to node if ch was seen after it (> 0), else 0 */
} Entry;           /* 16 bytes: four to a cache line */

typedef struct {
    int64_t total, distinct; /* of the chars seen after this context */
    int32_t link, depth;     /* node of the context less its oldest char; its length */
} Node;                      /* one cache line for what a walk reads of a context */

typedef struct {
    int order;
    double vocab_size;
    int64_t nchars, line_start, line_end, nodes;
    Node *node;
    Entry *entries;
    uint64_t mask;
    int32_t start; /* the state of the empty text: its history is all line starts */
} LM;

static const Entry *lm_entry(const LM *lm, int32_t node, int64_t ch) {
    uint32_t key = (uint32_t)((uint64_t)node * (uint64_t)lm->nchars + (uint64_t)ch);
    for (uint64_t i = mix(key) & lm->mask; lm->entries[i].key != NO_KEY; i = (i + 1) & lm->mask)
        if (lm->entries[i].key == key) return &lm->entries[i];
    return NULL;
}

/* Starts loading the entries a new text's state and probability will read: the search asks for
 * them all at the start of a frame, so that their cache misses overlap instead of queueing. */
static void lm_prefetch(const LM *lm, int32_t state, int64_t ch) {
#if defined(__GNUC__)
    if (state < 0) return;
    uint64_t key = (uint64_t)state * (uint64_t)lm->nchars + (uint64_t)ch;
    __builtin_prefetch(&lm->entries[mix(key) & lm->mask]);
    if (lm->node[state].depth == lm->order - 1 && lm->node[state].link >= 0) {
        key = (uint64_t)lm->node[state].link * (uint64_t)lm->nchars + (uint64_t)ch;
        __builtin_prefetch(&lm->entries[mix(key) & lm->mask]);
    }
#endif
}

/* One walk down the suffix links from `state` for the two things a new character needs, each entry
 * read once: *prob, lm.py's value for ch up to context `state` (before the log), from the first
 * context that saw ch; and *next, the state after ch, the first context on the way with a child
 * for ch (not `state` itself when it is as long as a history gets). Either may be NULL. */
static void lm_step(const LM *lm, int32_t state, int64_t ch, double *prob, int32_t *next) {
    double value = 1.0 / lm->vocab_size;
    int32_t after = 0, unseen[64];
    int count = 0, prob_done = prob == NULL, next_done = next == NULL;
    int skip = lm->nodes > 0 && lm->node[state].depth == lm->order - 1; /* its oldest char leaves the history */
    for (int32_t at = lm->nodes > 0 ? state : -1; at >= 0 && !(prob_done && next_done); at = lm->node[at].link) {
        const Entry *e = lm_entry(lm, at, ch);
        if (!prob_done) {
            if (e != NULL && e->prob > 0.0) {
                value = e->prob;
                prob_done = 1;
            } else {
                unseen[count++] = at;
            }
        }
        if (!next_done && !(skip && at == state) && e != NULL && e->child >= 0) {
            after = e->child;
            next_done = 1;
        }
    }
    while (count > 0) { /* back up through the contexts that never saw ch */
        const Node *at = &lm->node[unseen[--count]];
        value = ((double)0 + (double)at->distinct * value) / (double)(at->total + at->distinct);
    }
    if (prob != NULL) *prob = value;
    if (next != NULL) *next = lm->nodes > 0 ? after : -1; /* no child on the way: the empty context */
}

static double lm_prob(const LM *lm, int32_t state, int64_t ch) {
    double prob;
    lm_step(lm, state, ch, &prob, NULL);
    return prob;
}

static void lm_release(LM *lm) {
    free(lm->node);
    free(lm->entries);
    free(lm);
}

static void lm_free(PyObject *capsule) {
    LM *lm = PyCapsule_GetPointer(capsule, "sparkhtr._beam.LM");
    if (lm != NULL) lm_release(lm);
}

/* lm_new(order, vocab size, nchars, line start id, line end id, link, depth, totals, distinct,
 * count keys, counts, edge keys, edge children): nodes numbered shortest context first, counts in
 * node order, so that every value a walk needs is computed before it is needed; an edge adds its
 * child to the count entry of the same key, or an entry of its own. */
static PyObject *lm_new(PyObject *self, PyObject *args) {
    int order;
    double vocab_size;
    long long nchars, line_start, line_end;
    Py_buffer link, depth, tot, dis, keys, counts, edges, children;
    if (!PyArg_ParseTuple(args, "idLLLy*y*y*y*y*y*y*y*", &order, &vocab_size, &nchars, &line_start, &line_end, &link,
                          &depth, &tot, &dis, &keys, &counts, &edges, &children))
        return NULL;
    PyObject *result = NULL;
    int64_t nodes = tot.len / (Py_ssize_t)sizeof(int64_t), count = keys.len / (Py_ssize_t)sizeof(int64_t);
    int64_t nedges = edges.len / (Py_ssize_t)sizeof(int64_t);
    uint64_t size = 16;
    while (size * 7 < (uint64_t)(count + nedges) * 10 + 16) size <<= 1; /* at most 70 % full */
    LM *lm = calloc(1, sizeof(LM));
    if (lm != NULL) {
        *lm = (LM){order, vocab_size, nchars, line_start, line_end, nodes, malloc((size_t)(nodes + 1) * sizeof(Node)),
                   malloc(size * sizeof(Entry)), size - 1, 0};
    }
    if (lm == NULL || !lm->node || !lm->entries) {
        if (lm != NULL) lm_release(lm);
        PyErr_NoMemory();
        goto done;
    }
    for (int64_t n = 0; n < nodes; n++)
        lm->node[n] = (Node){((int64_t *)tot.buf)[n], ((int64_t *)dis.buf)[n], ((int32_t *)link.buf)[n],
                             ((int32_t *)depth.buf)[n]};
    for (uint64_t i = 0; i < size; i++) lm->entries[i].key = NO_KEY;
    const int64_t *key = keys.buf, *seen = counts.buf;
    for (int64_t n = 0; n < count; n++) {
        uint64_t i = mix((uint64_t)key[n]) & lm->mask;
        while (lm->entries[i].key != NO_KEY) i = (i + 1) & lm->mask;
        int32_t node = (int32_t)((uint64_t)key[n] / (uint64_t)nchars);
        int64_t ch = (int64_t)((uint64_t)key[n] % (uint64_t)nchars);
        /* lm.py's step at this context, from the walk up to the one below */
        const Node *at = &lm->node[node];
        double below = node == 0 ? 1.0 / vocab_size : lm_prob(lm, at->link, ch);
        double prob = ((double)seen[n] + (double)at->distinct * below) / (double)(at->total + at->distinct);
        lm->entries[i] = (Entry){(uint32_t)key[n], -1, prob};
    }
    const int64_t *edge = edges.buf, *child = children.buf;
    for (int64_t n = 0; n < nedges; n++) {
        uint64_t i = mix((uint64_t)edge[n]) & lm->mask;
        while (lm->entries[i].key != NO_KEY && lm->entries[i].key != (uint32_t)edge[n]) i = (i + 1) & lm->mask;
        if (lm->entries[i].key == NO_KEY) lm->entries[i] = (Entry){(uint32_t)edge[n], -1, 0.0};
        lm->entries[i].child = (int32_t)child[n];
    }
    int32_t state = nodes > 0 ? 0 : -1;
    for (int k = 0; k < order - 1 && nodes > 0; k++) lm_step(lm, state, line_start, NULL, &state);
    lm->start = state;
    result = PyCapsule_New(lm, "sparkhtr._beam.LM", lm_free);
done:
    PyBuffer_Release(&link);
    PyBuffer_Release(&depth);
    PyBuffer_Release(&tot);
    PyBuffer_Release(&dis);
    PyBuffer_Release(&keys);
    PyBuffer_Release(&counts);
    PyBuffer_Release(&edges);
    PyBuffer_Release(&children);
    return result;
}
