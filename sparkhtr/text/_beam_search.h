/* The search itself, included by _beam.c (one translation unit, so the tables' structs are shared).
 * Names follow sparkhtr/text/ctc.py: a hypothesis (_Prefix there) has log-probs of ending in a blank
 * and in its last label, its text, its last class and frame spans that follow its strongest path. */

#define NEG (-HUGE_VAL)

/* A text is a node of a per-line trie of texts (parent text + one class), so that equal texts are
 * one node (the dict keys of ctc.py) and what the language side adds for a node's last character
 * is computed once per line. */
typedef struct {
    int32_t parent, label, length, word_len; /* word_len: trailing letters (the word a closer would close) */
    uint64_t word_hash;                      /* their lower-case code points' hash */
    double gain;                             /* the LM + lexicon score of the last character */
    int32_t lm_state;                        /* the LM context node of this text's history */
    int32_t stamp, slot;                     /* where this text is in the frame's next beam, if stamp is now */
} Text;

typedef struct {
    double blank, label, spans_score;
    int32_t text, last; /* last: the last class, -1 for the empty text */
    int64_t spans;      /* newest span node, -1 for none */
} Hyp;

typedef struct {
    int64_t older;
    int32_t label, first, last;
} Span;

typedef struct {
    double rank;
    int32_t at;
} Ranked;

typedef struct {
    const LM *lm;
    const Lex *lex;
    const Classes *cl;
    double lm_weight, word_bonus, oov_penalty;
    Text *texts;
    int64_t ntexts, texts_cap;
    Table children; /* text * classes + class -> text */
    Span *spans;
    int64_t nspans, spans_cap;
    int failed;
} Search;

static double logadd(double a, double b) {
    if (a == NEG) return b;
    if (b == NEG) return a;
    double high = a > b ? a : b, low = a > b ? b : a;
    return high + log1p(exp(low - high));
}

static double total_of(const Hyp *h) {
    return logadd(h->blank, h->label);
}

static int grow(void **items, int64_t *cap, int64_t need, size_t size) {
    if (need <= *cap) return 0;
    int64_t bigger = *cap * 2 > need ? *cap * 2 : need + 16;
    void *moved = realloc(*items, (size_t)bigger * size);
    if (moved == NULL) return -1;
    *items = moved;
    *cap = bigger;
    return 0;
}

/* Lexicon.closing_score: the word that a character closes after this text, known or not. */
static double closing_score(const Search *s, int32_t text, int is_alpha, int is_hyphen) {
    const Text *t = &s->texts[text];
    if (is_alpha || is_hyphen || t->word_len == 0) return 0.0;
    const Lex *lex = s->lex;
    int32_t word[256];
    int64_t length = 0;
    int long_word = 0;
    for (int32_t at = text, k = 0; k < t->word_len; k++, at = s->texts[at].parent) {
        int32_t c = s->texts[at].label;
        for (int64_t j = s->cl->lower_at[c + 1] - 1; j >= s->cl->lower_at[c]; j--) {
            if (length == 256) long_word = 1;
            else word[length++] = s->cl->lower[j];
        }
    }
    if (!long_word) {
        uint64_t key = as_key(t->word_hash), i = mix(key) & lex->mask;
        for (; lex->keys[i] != EMPTY; i = (i + 1) & lex->mask) {
            if (lex->keys[i] != key) continue;
            int64_t w = lex->word[i], from = lex->offsets[w];
            if (lex->offsets[w + 1] - from != length) continue;
            int64_t k = 0; /* word[] holds the code points newest first */
            while (k < length && lex->cps[from + k] == word[length - 1 - k]) k++;
            if (k == length) return s->word_bonus;
        }
    }
    return -s->oov_penalty; /* no word of the lexicon is longer than 256 code points: fast_beam.py */
}

/* What the language side adds when class (or the line end, class -1) follows the text: ctc.py's gain,
 * with lm_prob the LM's probability of that character there. */
static double gain(const Search *s, int32_t text, int32_t cls, double lm_prob) {
    double score = s->lm != NULL ? s->lm_weight * log(lm_prob) : 0.0;
    if (s->lex != NULL)
        score += closing_score(s, text, cls >= 0 && s->cl->alpha[cls], cls >= 0 && s->cl->hyphen[cls]);
    return score;
}

/* The text `text` + class `cls`, made (with its gain) the first time it is asked for. */
static int32_t child_text(Search *s, int32_t text, int32_t cls) {
    uint64_t key = (uint64_t)text * (uint64_t)s->cl->classes + (uint64_t)cls;
    int64_t found = table_get(&s->children, key, -1);
    if (found >= 0) return (int32_t)found;
    if (grow((void **)&s->texts, &s->texts_cap, s->ntexts + 1, sizeof(Text)) < 0 ||
        table_set_growing(&s->children, key, s->ntexts) < 0) {
        s->failed = 1;
        return -1;
    }
    int32_t made = (int32_t)s->ntexts++;
    const Text *parent = &s->texts[text];
    Text *t = &s->texts[made];
    t->parent = text;
    t->label = cls;
    t->length = parent->length + 1;
    t->stamp = -1;
    t->slot = 0;
    if (s->cl->alpha[cls]) {
        uint64_t hash = parent->word_len > 0 ? parent->word_hash : FNV_BASIS;
        for (int64_t j = s->cl->lower_at[cls]; j < s->cl->lower_at[cls + 1]; j++) hash = word_hash_step(hash, s->cl->lower[j]);
        t->word_len = parent->word_len + 1;
        t->word_hash = hash;
    } else {
        t->word_len = 0;
        t->word_hash = FNV_BASIS;
    }
    double prob = 1.0;
    t->lm_state = -1;
    if (s->lm != NULL) lm_step(s->lm, parent->lm_state, s->cl->lm_id[cls], &prob, &t->lm_state);
    t->gain = gain(s, text, cls, prob);
    return made;
}

static int64_t new_span(Search *s, int64_t older, int32_t label, int32_t first, int32_t last) {
    if (grow((void **)&s->spans, &s->spans_cap, s->nspans + 1, sizeof(Span)) < 0) {
        s->failed = 1;
        return -1;
    }
    s->spans[s->nspans] = (Span){older, label, first, last};
    return s->nspans++;
}

/* _Prefix.add for a blank (the spans are the source's) and for a label (a span node, made only
 * when this contribution becomes the strongest). */
static void add_blank(Hyp *h, double score, int64_t spans) {
    h->blank = logadd(h->blank, score);
    if (score > h->spans_score) {
        h->spans = spans;
        h->spans_score = score;
    }
}

static void add_label(Search *s, Hyp *h, double score, int64_t older, int32_t label, int32_t first, int32_t last) {
    h->label = logadd(h->label, score);
    if (score > h->spans_score) {
        h->spans = new_span(s, older, label, first, last);
        h->spans_score = score;
    }
}

/* ctc.py's _entry: the next beam's hypothesis for this text, made empty the first time. */
static Hyp *entry(Search *s, Hyp *next, int64_t *count, int32_t frame, int32_t text, int32_t last) {
    Text *t = &s->texts[text];
    if (t->stamp == frame) return &next[t->slot];
    t->stamp = frame;
    t->slot = (int32_t)*count;
    Hyp *h = &next[(*count)++];
    *h = (Hyp){NEG, NEG, NEG, text, last, -1};
    return h;
}

/* heapq.nlargest's order on (rank, -arrival): the higher rank first, the earlier arrival on ties. */
static int better(const Ranked *x, const Ranked *y) {
    return x->rank > y->rank || (x->rank == y->rank && x->at < y->at);
}

/* Sifts heap[at] down a heap of `size` whose root is the worst (the next one out). */
static void sift_down(Ranked *heap, int64_t size, int64_t at) {
    for (;;) {
        int64_t worst = at, left = 2 * at + 1, right = left + 1;
        if (left < size && better(&heap[worst], &heap[left])) worst = left;
        if (right < size && better(&heap[worst], &heap[right])) worst = right;
        if (worst == at) return;
        Ranked swap = heap[at];
        heap[at] = heap[worst];
        heap[worst] = swap;
        at = worst;
    }
}

/* The best `keep` of ranked[0 .. count), best first, in ranked[0 .. keep): heapq.nlargest's result. */
static void best_first(Ranked *ranked, int64_t count, int64_t keep) {
    for (int64_t i = keep / 2 - 1; i >= 0; i--) sift_down(ranked, keep, i);
    for (int64_t i = keep; i < count; i++) {
        if (better(&ranked[i], &ranked[0])) {
            ranked[0] = ranked[i];
            sift_down(ranked, keep, 0);
        }
    }
    for (int64_t size = keep - 1; size > 0; size--) { /* the worst goes last, and so on */
        Ranked swap = ranked[0];
        ranked[0] = ranked[size];
        ranked[size] = swap;
        sift_down(ranked, size, 0);
    }
}

static void search_free(Search *s) {
    free(s->texts);
    free(s->spans);
    table_free(&s->children);
}

/* The search over `frames` x `classes` log-probs; the best text's span node in *best_spans. */
/* One line's log-probs as numpy gave them, float32 or float64, frames x classes. */
typedef struct {
    const void *data;
    int f32;
    int64_t frames, classes;
} Scores;

static double score_at(const Scores *sc, int64_t t, int64_t c) {
    int64_t at = t * sc->classes + c;
    return sc->f32 ? (double)((const float *)sc->data)[at] : ((const double *)sc->data)[at];
}

static int has_nan(const Scores *sc) {
    for (int64_t t = 0; t < sc->frames; t++)
        for (int64_t c = 0; c < sc->classes; c++)
            if (isnan(score_at(sc, t, c))) return 1;
    return 0;
}

static int run_search(Search *s, const Scores *sc, int32_t blank, int32_t width, double prune, double length_bonus,
                      int has_margin, double margin, int64_t *best_spans) {
    int64_t frames = sc->frames, classes = sc->classes;
    /* numpy compares float32 log-probs with the floor in float32: the floor rounded to float first */
    double floor_tried = sc->f32 ? (double)(float)prune : prune;
    double *row = malloc((size_t)classes * sizeof(double));
    int64_t beams_cap = width > 1 ? width : 1, next_cap = 64, count = 1;
    Hyp *beams = malloc((size_t)beams_cap * sizeof(Hyp)), *next = malloc((size_t)next_cap * sizeof(Hyp));
    int32_t *candidates = malloc((size_t)classes * sizeof(int32_t));
    Ranked *ranked = malloc((size_t)next_cap * sizeof(Ranked));
    s->texts_cap = 256;
    s->texts = malloc((size_t)s->texts_cap * sizeof(Text));
    int ok = row && beams && next && candidates && ranked && s->texts && table_init(&s->children, 256) == 0;
    if (ok) {
        s->ntexts = 1;
        s->texts[0] = (Text){-1, -1, 0, 0, FNV_BASIS, 0.0, s->lm != NULL ? s->lm->start : -1, -1, 0};
        beams[0] = (Hyp){0.0, NEG, 0.0, 0, -1, -1}; /* the empty text, after a blank of log-prob 0 */
    }
    for (int32_t t = 0; ok && t < frames; t++) {
        int64_t best = 0, ncand = 0;
        for (int64_t c = 0; c < classes; c++) {
            row[c] = score_at(sc, t, c);
            if (row[c] > row[best]) best = c; /* the first maximum, as numpy's argmax */
        }
        for (int64_t c = 0; c < classes; c++) /* the classes tried: above the prune floor, and the best */
            if (row[c] >= floor_tried || c == best) candidates[ncand++] = (int32_t)c;
        if (ncand == 1 && candidates[0] == blank) { /* only the blank: texts stay, ranks shift alike */
            for (int64_t i = 0; i < count; i++) {
                beams[i].blank = beams[i].spans_score = total_of(&beams[i]) + row[blank];
                beams[i].label = NEG;
            }
            continue;
        }
        if (count * (ncand + 1) > next_cap) { /* each candidate makes at most one text, the repeat one more */
            next_cap = count * (ncand + 1);
            Hyp *moved = realloc(next, (size_t)next_cap * sizeof(Hyp));
            Ranked *moved_ranked = moved ? realloc(ranked, (size_t)next_cap * sizeof(Ranked)) : NULL;
            if (moved) next = moved;
            if (moved_ranked) ranked = moved_ranked;
            if (!moved || !moved_ranked) {
                ok = 0;
                break;
            }
        }
        if (s->lm != NULL)
            for (int64_t i = 0; i < count; i++)
                for (int64_t k = 0; k < ncand; k++)
                    if (candidates[k] != blank)
                        lm_prefetch(s->lm, s->texts[beams[i].text].lm_state, s->cl->lm_id[candidates[k]]);
        int64_t nnext = 0;
        for (int64_t i = 0; i < count && !s->failed; i++) {
            Hyp prefix = beams[i];
            double total = total_of(&prefix);
            for (int64_t k = 0; k < ncand && !s->failed; k++) {
                int32_t c = candidates[k];
                double p = row[c], source;
                if (c == blank) {
                    add_blank(entry(s, next, &nnext, t, prefix.text, prefix.last), total + p, prefix.spans);
                    continue;
                }
                if (c == prefix.last) { /* the same character continues to this frame: no new character */
                    if (prefix.label != NEG && prefix.spans >= 0) { /* a finite path has spans */
                        Span sp = s->spans[prefix.spans];
                        add_label(s, entry(s, next, &nnext, t, prefix.text, prefix.last), prefix.label + p, sp.older,
                                  sp.label, sp.first, t);
                    }
                    source = prefix.blank; /* a repeat only after a blank is a new character */
                } else {
                    source = total;
                }
                if (source == NEG) continue;
                int32_t text = child_text(s, prefix.text, c);
                if (text < 0) break;
                double g = s->texts[text].gain;
                add_label(s, entry(s, next, &nnext, t, text, c), source + p + g, prefix.spans, c, t, t);
            }
        }
        if (s->failed) {
            ok = 0;
            break;
        }
        if (nnext > width) {
            for (int64_t i = 0; i < nnext; i++)
                ranked[i] = (Ranked){total_of(&next[i]) + length_bonus * (double)s->texts[next[i].text].length, (int32_t)i};
            best_first(ranked, nnext, width);
            double floor = has_margin ? ranked[0].rank - margin : NEG;
            count = 0;
            for (int64_t i = 0; i < width; i++)
                if (ranked[i].rank >= floor) beams[count++] = next[ranked[i].at];
        } else {
            if (nnext > beams_cap) {
                Hyp *moved = realloc(beams, (size_t)nnext * sizeof(Hyp));
                if (moved == NULL) {
                    ok = 0;
                    break;
                }
                beams = moved;
                beams_cap = nnext;
            }
            memcpy(beams, next, (size_t)nnext * sizeof(Hyp));
            count = nnext;
        }
    }
    if (ok) { /* the best text with its line end: ctc.py's final(), the first of equals */
        double top = 0.0;
        for (int64_t i = 0; i < count; i++) {
            const Text *text = &s->texts[beams[i].text];
            double end = s->lm != NULL ? lm_prob(s->lm, text->lm_state, s->lm->line_end) : 1.0;
            double score = total_of(&beams[i]) + gain(s, beams[i].text, -1, end) + length_bonus * (double)text->length;
            if (i == 0 || score > top) {
                top = score;
                *best_spans = beams[i].spans;
            }
        }
    }
    free(row);
    free(beams);
    free(next);
    free(candidates);
    free(ranked);
    return ok ? 0 : -1;
}

/* ctc.py's _alignment_confidences for the best text: each character's mean probability over its
 * frames, and the line's over all frames (blanks between characters), summed in double precision
 * (numpy sums float32 log-probs' exponentials in float32: the two agree within 1e-6). */
static PyObject *confidences(const Search *s, const Scores *sc, int32_t blank, int64_t best) {
    int64_t frames = sc->frames;
    int64_t count = 0;
    for (int64_t at = best; at >= 0; at = s->spans[at].older) count++;
    PyObject *chars = PyList_New(count);
    if (chars == NULL) return NULL;
    double line = 0.0;
    int64_t frame = frames; /* frames after the current span (walking back) are blanks */
    for (int64_t at = best, k = count - 1; at >= 0; at = s->spans[at].older, k--) {
        const Span *sp = &s->spans[at];
        for (; frame > sp->last + 1; frame--) line += exp(score_at(sc, frame - 1, blank));
        double sum = 0.0;
        for (int64_t t = sp->first; t <= sp->last; t++) sum += exp(score_at(sc, t, sp->label));
        line += sum;
        frame = sp->first;
        PyObject *item = Py_BuildValue("(idii)", sp->label, sum / (double)(sp->last - sp->first + 1), sp->first,
                                       sp->last);
        if (item == NULL) {
            Py_DECREF(chars);
            return NULL;
        }
        PyList_SET_ITEM(chars, k, item);
    }
    for (; frame > 0; frame--) line += exp(score_at(sc, frame - 1, blank));
    PyObject *result = Py_BuildValue("(Nd)", chars, frames > 0 ? line / (double)frames : 0.0);
    return result;
}

/* decode(log_probs, is float32, frames, classes, blank, class table, LM table or None, lexicon table or
 * None, lm_weight, length_bonus, beam_width, prune, word_bonus, oov_penalty, has margin, margin):
 * ([(label, confidence, first frame, last frame)], line confidence), or None for NaN log-probs. */
static PyObject *decode(PyObject *self, PyObject *args) {
    Py_buffer lp;
    long long frames, classes;
    int f32, blank, width, has_margin;
    double lm_weight, length_bonus, prune, word_bonus, oov_penalty, margin;
    PyObject *classes_capsule, *lm_capsule, *lex_capsule;
    if (!PyArg_ParseTuple(args, "y*pLLiOOOddidddpd", &lp, &f32, &frames, &classes, &blank, &classes_capsule,
                          &lm_capsule, &lex_capsule, &lm_weight, &length_bonus, &width, &prune, &word_bonus,
                          &oov_penalty, &has_margin, &margin))
        return NULL;
    Search s = {0};
    s.cl = PyCapsule_GetPointer(classes_capsule, "sparkhtr._beam.Classes");
    s.lm = lm_capsule == Py_None ? NULL : PyCapsule_GetPointer(lm_capsule, "sparkhtr._beam.LM");
    s.lex = lex_capsule == Py_None ? NULL : PyCapsule_GetPointer(lex_capsule, "sparkhtr._beam.Lex");
    if (s.cl == NULL || (lm_capsule != Py_None && s.lm == NULL) || (lex_capsule != Py_None && s.lex == NULL)) {
        PyBuffer_Release(&lp);
        return NULL;
    }
    long long item = f32 ? (long long)sizeof(float) : (long long)sizeof(double);
    if (frames < 1 || classes < 1 || lp.len != (Py_ssize_t)(frames * classes * item) || classes != s.cl->classes + 1 ||
        blank != classes - 1 || width < 1 || (s.lm != NULL && s.lm->order > 64)) {
        PyBuffer_Release(&lp);
        PyErr_SetString(PyExc_ValueError, "decode: log-probs, charset and tables disagree");
        return NULL;
    }
    Scores sc = {lp.buf, f32, frames, classes};
    s.lm_weight = lm_weight;
    s.word_bonus = word_bonus;
    s.oov_penalty = oov_penalty;
    int64_t best = -1;
    int failed = 0, nan = 0;
    Py_BEGIN_ALLOW_THREADS
    nan = has_nan(&sc);
    if (!nan) failed = run_search(&s, &sc, blank, width, prune, length_bonus, has_margin, margin, &best);
    Py_END_ALLOW_THREADS
    PyObject *result = nan ? Py_NewRef(Py_None) : failed ? NULL : confidences(&s, &sc, blank, best);
    PyBuffer_Release(&lp);
    search_free(&s);
    if (failed) return PyErr_NoMemory();
    return result;
}
