/* Thresholds: parsing the --threshold language and evaluating it on a snapshot, for the
 * exit code, --abort-on-threshold and the verdicts every report shows. Owns each threshold's copies
 * of its expression and scope. Times are compared in microseconds, the unit of the histograms, so
 * "p95<200ms" and "p95<200000us" are the same threshold. */
#include "threshold/threshold.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *dup_range(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* A plain decimal number: digits with at most one point, no sign or exponent. */
static bool parse_number(const char **p, double *out)
{
    const char *s = *p;
    size_t digits = 0, dots = 0, n = 0;
    while (isdigit((unsigned char)s[n]) || s[n] == '.') {
        if (s[n] == '.')
            dots++;
        else
            digits++;
        n++;
    }
    if (digits == 0 || dots > 1 || n > 40)
        return false;
    char buf[48];
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    double v = strtod(buf, NULL);
    if (errno != 0 || !isfinite(v))
        return false;
    *out = v;
    *p = s + n;
    return true;
}

static int fail(sl_err_t *err, const char *expr, const char *what)
{
    sl_err_set(err, "'%s': %s", expr, what);
    return SL_EINVAL;
}

/* Metric names, longest first where one is a prefix of another. */
static const struct {
    const char *name;
    sl_th_metric_t metric;
} metrics[] = {
    {"fail_ratio", SL_TH_FAIL_RATIO},
    {"median", SL_TH_PCT},
    {"med", SL_TH_PCT},
    {"avg", SL_TH_AVG},
    {"min", SL_TH_MIN},
    {"max", SL_TH_MAX},
    {"rps", SL_TH_RPS},
};

static bool is_time(sl_th_metric_t m)
{
    return m == SL_TH_PCT || m == SL_TH_AVG || m == SL_TH_MIN || m == SL_TH_MAX;
}

static int parse_scope(const char *expr, const char *colon, sl_threshold_t *t, sl_err_t *err)
{
    const char *s = skip_ws(expr);
    const char *end = colon;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    const char *sp = s;
    while (sp < end && *sp != ' ' && *sp != '\t')
        sp++;
    if (sp == end)
        return fail(err, expr, "a scope is 'METHOD name' (e.g. 'GET /hello: p95<100ms')");
    const char *name = sp;
    while (name < end && (*name == ' ' || *name == '\t'))
        name++;
    t->method = dup_range(s, (size_t)(sp - s));
    t->name = dup_range(name, (size_t)(end - name));
    if (!t->method || !t->name)
        return SL_ENOMEM;
    for (char *c = t->method; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    return SL_OK;
}

int sl_threshold_parse(const char *expr, sl_threshold_t *t, sl_err_t *err)
{
    memset(t, 0, sizeof(*t));
    int rc = SL_EINVAL;
    if (!(t->expr = strdup(expr)))
        return SL_ENOMEM;
    /* The metric part never contains a colon, so the last one ends the scope: row names
     * may contain colons of their own ("/api/v1:batch"). */
    const char *colon = strrchr(expr, ':');
    const char *p = expr;
    if (colon) {
        if ((rc = parse_scope(expr, colon, t, err)) != SL_OK)
            goto bad;
        p = colon + 1;
    }
    rc = SL_EINVAL;
    p = skip_ws(p);
    if (*p == '\0') {
        fail(err, expr, "empty threshold (e.g. p95<200ms, fail_ratio<0.01, rps>100)");
        goto bad;
    }

    bool found = false;
    if (p[0] == 'p' && (isdigit((unsigned char)p[1]) || p[1] == '(')) {
        /* pNN, or k6's p(NN) */
        bool paren = p[1] == '(';
        p += paren ? 2 : 1;
        if (!parse_number(&p, &t->pct) || !(t->pct > 0.0 && t->pct <= 100.0) ||
            (paren && *p++ != ')')) {
            fail(err, expr, "a percentile is p followed by a number in (0, 100], e.g. p99.9");
            goto bad;
        }
        t->metric = SL_TH_PCT;
        found = true;
    } else {
        for (size_t i = 0; i < SL_ARRAY_LEN(metrics); i++) {
            size_t n = strlen(metrics[i].name);
            if (strncmp(p, metrics[i].name, n) == 0) {
                t->metric = metrics[i].metric;
                t->pct = 50.0; /* for med and median */
                p += n;
                found = true;
                break;
            }
        }
    }
    if (!found) {
        fail(err, expr,
             "unknown metric (use pNN, med, avg, min, max, fail_ratio or rps, e.g. p95<200ms)");
        goto bad;
    }

    p = skip_ws(p);
    if (p[0] == '<' && p[1] == '=') {
        t->op = SL_TH_LE;
        p += 2;
    } else if (p[0] == '>' && p[1] == '=') {
        t->op = SL_TH_GE;
        p += 2;
    } else if (p[0] == '<') {
        t->op = SL_TH_LT;
        p++;
    } else if (p[0] == '>') {
        t->op = SL_TH_GT;
        p++;
    } else {
        fail(err, expr, "expected one of <, <=, >, >= after the metric");
        goto bad;
    }

    p = skip_ws(p);
    double v;
    if (!parse_number(&p, &v)) {
        fail(err, expr, "expected a number after the comparison");
        goto bad;
    }
    const char *unit = p;
    size_t ulen = 0;
    while (unit[ulen] && unit[ulen] != ' ' && unit[ulen] != '\t')
        ulen++;
    if (*skip_ws(unit + ulen) != '\0') {
        fail(err, expr, "unexpected text after the limit");
        goto bad;
    }
    if (is_time(t->metric)) {
        if (ulen == 0 || (ulen == 2 && strncmp(unit, "ms", 2) == 0))
            t->limit = v * 1e3;
        else if (ulen == 2 && strncmp(unit, "us", 2) == 0)
            t->limit = v;
        else if (ulen == 1 && unit[0] == 's')
            t->limit = v * 1e6;
        else {
            fail(err, expr, "unknown time unit (use us, ms or s; ms when none is given)");
            goto bad;
        }
    } else if (t->metric == SL_TH_FAIL_RATIO) {
        if (ulen == 0)
            t->limit = v;
        else if (ulen == 1 && unit[0] == '%')
            t->limit = v / 100.0;
        else {
            fail(err, expr, "fail_ratio is a ratio (0.01) or a percentage (1%)");
            goto bad;
        }
        if (t->limit > 1.0) {
            fail(err, expr, "fail_ratio is at most 1 (100%)");
            goto bad;
        }
    } else {
        if (ulen != 0) {
            fail(err, expr, "rps takes a plain number of requests per second");
            goto bad;
        }
        t->limit = v;
    }
    return SL_OK;
bad:
    sl_threshold_dispose(t);
    return rc;
}

void sl_threshold_dispose(sl_threshold_t *t)
{
    free(t->expr);
    free(t->method);
    free(t->name);
    memset(t, 0, sizeof(*t));
}

int sl_thresholds_add(sl_thresholds_t *set, const char *expr, sl_err_t *err)
{
    sl_threshold_t t;
    int rc = sl_threshold_parse(expr, &t, err);
    if (rc != SL_OK)
        return rc;
    if (set->n == SL_VERDICTS_MAX) {
        sl_threshold_dispose(&t);
        sl_err_set(err, "at most %d thresholds", SL_VERDICTS_MAX);
        return SL_ELIMIT;
    }
    sl_threshold_t *items = realloc(set->items, (set->n + 1) * sizeof(*items));
    if (!items) {
        sl_threshold_dispose(&t);
        sl_err_set(err, "out of memory");
        return SL_ENOMEM;
    }
    items[set->n++] = t;
    set->items = items;
    return SL_OK;
}

void sl_thresholds_dispose(sl_thresholds_t *set)
{
    for (size_t i = 0; i < set->n; i++)
        sl_threshold_dispose(&set->items[i]);
    free(set->items);
    memset(set, 0, sizeof(*set));
}

/* The row a threshold reads: its scope's row, or the total. NULL when the scoped row does
 * not exist (a typo, or a row no request ever reached). */
static const sl_row_stats_t *scoped_row(const sl_threshold_t *t, const sl_snapshot_t *s)
{
    if (!t->method)
        return s->total;
    for (size_t i = 0; i < s->nrows; i++) {
        if (strcmp(s->rows[i].method, t->method) == 0 && strcmp(s->rows[i].name, t->name) == 0)
            return &s->stats->rows[i];
    }
    return NULL;
}

static bool compare(double observed, sl_th_op_t op, double limit)
{
    switch (op) {
    case SL_TH_LT:
        return observed < limit;
    case SL_TH_LE:
        return observed <= limit;
    case SL_TH_GT:
        return observed > limit;
    case SL_TH_GE:
        return observed >= limit;
    }
    return false;
}

/* The observed value in the threshold's internal unit (microseconds for times). */
static bool observe(const sl_threshold_t *t, const sl_snapshot_t *s, double *out)
{
    const sl_row_stats_t *r = scoped_row(t, s);
    if (!r)
        return false;
    const sl_hist_t *h = &r->latency;
    if (t->metric == SL_TH_RPS) {
        double secs = s->elapsed_us ? (double)s->elapsed_us / 1e6 : 1.0;
        *out = (double)r->num_requests / secs;
        return true;
    }
    if (r->num_requests == 0)
        return false;
    switch (t->metric) {
    case SL_TH_PCT:
        *out = (double)sl_hist_percentile(h, t->pct);
        return true;
    case SL_TH_AVG:
        *out = sl_hist_mean(h);
        return true;
    case SL_TH_MIN:
        *out = (double)h->min_us;
        return true;
    case SL_TH_MAX:
        *out = (double)h->max_us;
        return true;
    case SL_TH_FAIL_RATIO:
        *out = (double)r->num_failures / (double)r->num_requests;
        return true;
    case SL_TH_RPS:
        break;
    }
    return false;
}

void sl_threshold_eval(const sl_threshold_t *t, const sl_snapshot_t *s, sl_threshold_result_t *r)
{
    double v = 0.0;
    r->has_value = observe(t, s, &v);
    r->ok = r->has_value && compare(v, t->op, t->limit);
    /* Reported like the JSON summary: milliseconds with microsecond precision. */
    if (is_time(t->metric))
        r->observed = round(v) / 1000.0;
    else if (t->metric == SL_TH_RPS)
        r->observed = round(v * 1000.0) / 1000.0;
    else
        r->observed = v;
}

bool sl_thresholds_pass(const sl_thresholds_t *set, const sl_snapshot_t *s)
{
    for (size_t i = 0; set && i < set->n; i++) {
        sl_threshold_result_t r;
        sl_threshold_eval(&set->items[i], s, &r);
        if (!r.ok)
            return false;
    }
    return true;
}

const sl_threshold_t *sl_thresholds_doomed(const sl_thresholds_t *set, const sl_snapshot_t *s)
{
    for (size_t i = 0; set && i < set->n; i++) {
        const sl_threshold_t *t = &set->items[i];
        bool below = t->op == SL_TH_LT || t->op == SL_TH_LE;
        bool final_once_breached =
            (t->metric == SL_TH_MAX && below) || (t->metric == SL_TH_MIN && !below);
        bool settles = t->metric == SL_TH_FAIL_RATIO && below;
        if (!final_once_breached && !settles)
            continue;
        double v;
        if (!observe(t, s, &v) || compare(v, t->op, t->limit))
            continue;
        if (settles) {
            const sl_row_stats_t *r = scoped_row(t, s);
            if (s->elapsed_us < SL_TH_SETTLE_US || !r || r->num_requests < SL_TH_SETTLE_REQUESTS)
                continue;
        }
        return t;
    }
    return NULL;
}

const char *sl_threshold_unit(const sl_threshold_t *t)
{
    if (is_time(t->metric))
        return "ms";
    return t->metric == SL_TH_RPS ? "req/s" : "";
}

const char *sl_threshold_format(const sl_threshold_t *t, const sl_threshold_result_t *r, char *buf,
                                size_t len)
{
    if (!r->has_value)
        snprintf(buf, len, "%s", t->method ? "no requests in this row" : "no requests");
    else if (is_time(t->metric))
        snprintf(buf, len, "%.3f ms", r->observed);
    else if (t->metric == SL_TH_RPS)
        snprintf(buf, len, "%.1f req/s", r->observed);
    else
        snprintf(buf, len, "%.4f", r->observed);
    return buf;
}

void sl_thresholds_judge(const sl_thresholds_t *set, const sl_snapshot_t *s, sl_verdicts_t *out)
{
    out->n = 0;
    out->aborted_by = set ? set->aborted_by : NULL;
    for (size_t i = 0; set && i < set->n && i < SL_VERDICTS_MAX; i++) {
        const sl_threshold_t *t = &set->items[i];
        sl_threshold_result_t r;
        sl_threshold_eval(t, s, &r);
        sl_verdict_t *v = &out->item[out->n++];
        v->expr = t->expr;
        v->ok = r.ok;
        v->has_value = r.has_value;
        v->observed = r.observed;
        v->unit = sl_threshold_unit(t);
        sl_threshold_format(t, &r, v->text, sizeof(v->text));
    }
}
