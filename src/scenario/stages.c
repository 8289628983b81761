/* Parsing and evaluating --stages. */
#include "scenario/stages.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"

int sl_stages_parse(const char *spec, sl_stages_t *out, sl_err_t *err)
{
    out->n = 0;
    if (!spec || !*spec) {
        sl_err_set(err, "--stages: expected DURATION:TARGET[,...], as in 30s:100,1m:100,30s:0");
        return SL_EINVAL;
    }
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[128];
        if (len == 0 || len >= sizeof(item)) {
            sl_err_set(err, "--stages: stage %zu is empty or too long", out->n + 1);
            return SL_EINVAL;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        char *colon = strchr(item, ':');
        if (!colon) {
            sl_err_set(err, "--stages: stage %zu '%s' is not DURATION:TARGET", out->n + 1, item);
            return SL_EINVAL;
        }
        *colon = '\0';
        if (out->n >= SL_STAGES_MAX) {
            sl_err_set(err, "--stages: at most %d stages", SL_STAGES_MAX);
            return SL_EINVAL;
        }
        sl_stage_t *st = &out->stage[out->n];
        sl_err_t derr;
        if (sl_duration_parse(item, &st->duration_us, &derr) != 0 || st->duration_us == 0) {
            sl_err_set(err, "--stages: stage %zu: bad duration '%s'", out->n + 1, item);
            return SL_EINVAL;
        }
        char *end = NULL;
        st->target = strtod(colon + 1, &end);
        if (!colon[1] || *end || !(st->target >= 0) || st->target > 1e7) {
            sl_err_set(err, "--stages: stage %zu: bad target '%s' (a number >= 0)", out->n + 1,
                       colon + 1);
            return SL_EINVAL;
        }
        out->n++;
        p = comma ? comma + 1 : p + len;
        if (comma && !*p) {
            sl_err_set(err, "--stages: trailing ','");
            return SL_EINVAL;
        }
    }
    return 0;
}

uint64_t sl_stages_total_us(const sl_stages_t *st)
{
    uint64_t t = 0;
    for (size_t i = 0; i < st->n; i++)
        t += st->stage[i].duration_us;
    return t;
}

double sl_stages_max(const sl_stages_t *st)
{
    double m = 0;
    for (size_t i = 0; i < st->n; i++)
        m = st->stage[i].target > m ? st->stage[i].target : m;
    return m;
}

double sl_stages_value(const sl_stages_t *st, double start, uint64_t elapsed_us)
{
    double from = start;
    for (size_t i = 0; i < st->n; i++) {
        const sl_stage_t *s = &st->stage[i];
        if (elapsed_us < s->duration_us)
            return from + (s->target - from) * ((double)elapsed_us / (double)s->duration_us);
        elapsed_us -= s->duration_us;
        from = s->target;
    }
    return from;
}
