/* The report files a run writes besides the JSON summary (CSV, HDR log, HTML), behind one
 * open / tick / finish interface for main.c, and the JSON pieces (history, thresholds)
 * that the JSON summary and the HTML report share. Owns the writers it opened. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/outputs.h"

struct sl_outputs {
    sl_outputs_cfg_t cfg;
    sl_csv_t *csv;
    sl_hdrlog_t *hdr;
    FILE *html;
};

int sl_outputs_open(sl_outputs_t **out, const sl_outputs_cfg_t *cfg, sl_err_t *err)
{
    sl_outputs_t *o = calloc(1, sizeof(*o));
    if (!o) {
        sl_err_set(err, "out of memory");
        return SL_ENOMEM;
    }
    o->cfg = *cfg;
    int rc = SL_OK;
    if (cfg->csv_prefix)
        rc = sl_csv_open(&o->csv, cfg->csv_prefix, cfg->csv_full_history, err);
    if (rc == SL_OK && cfg->hdr_log_path)
        rc = sl_hdrlog_open(&o->hdr, cfg->hdr_log_path, err);
    if (rc == SL_OK && cfg->html_path) {
        o->html = fopen(cfg->html_path, "w");
        if (!o->html) {
            sl_err_set(err, "--html: cannot write '%s': %s", cfg->html_path, strerror(errno));
            rc = SL_ESYS;
        }
    }
    if (rc != SL_OK) {
        sl_outputs_free(o);
        return rc;
    }
    *out = o;
    return SL_OK;
}

void sl_outputs_tick(sl_outputs_t *o, const sl_snapshot_t *s)
{
    if (!o)
        return;
    sl_csv_tick(o->csv, s);
    sl_hdrlog_tick(o->hdr, s);
}

int sl_outputs_finish(sl_outputs_t *o, const sl_snapshot_t *s, sl_err_t *err)
{
    int rc = SL_OK;
    sl_err_t e;
    if (o->csv && sl_csv_finish(o->csv, s, &e) != SL_OK && rc == SL_OK) {
        rc = SL_ESYS;
        *err = e;
    }
    if (o->hdr && sl_hdrlog_finish(o->hdr, &e) != SL_OK && rc == SL_OK) {
        rc = SL_ESYS;
        *err = e;
    }
    if (o->html) {
        int wrc = sl_html_write(o->html, s, &o->cfg);
        int cerr = ferror(o->html) ? EIO : 0;
        if (fclose(o->html) != 0 && !cerr)
            cerr = errno;
        o->html = NULL;
        if ((wrc != SL_OK || cerr) && rc == SL_OK) {
            sl_err_set(err, "--html: cannot write '%s': %s", o->cfg.html_path,
                       wrc == SL_ENOMEM ? "out of memory" : strerror(cerr ? cerr : EIO));
            rc = SL_ESYS;
        }
    }
    return rc;
}

void sl_outputs_free(sl_outputs_t *o)
{
    if (!o)
        return;
    sl_csv_free(o->csv);
    sl_hdrlog_free(o->hdr);
    if (o->html)
        fclose(o->html);
    free(o);
}

static double ms3(uint64_t us)
{
    return (double)us / 1000.0;
}

static double round3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

void sl_report_history_write(sl_jw_t *w, const char *key, const sl_snapshot_t *s)
{
    sl_jw_array(w, key);
    for (size_t i = 0; i < s->nhistory; i++) {
        const sl_history_point_t *h = &s->history[i];
        double secs = h->interval_us ? (double)h->interval_us / 1e6 : 1.0;
        sl_jw_object(w, NULL);
        sl_jw_number(w, "t_s", round3((double)h->elapsed_us / 1e6));
        sl_jw_number(w, "interval_s", round3((double)h->interval_us / 1e6));
        sl_jw_number(w, "users", h->users);
        sl_jw_number(w, "requests", (double)h->requests);
        sl_jw_number(w, "failures", (double)h->failures);
        sl_jw_number(w, "rps", round3((double)h->requests / secs));
        sl_jw_number(w, "failures_per_s", round3((double)h->failures / secs));
        /* A second without completed requests has no percentiles: null, a gap in charts. */
        if (h->requests) {
            sl_jw_number(w, "p50_ms", ms3(h->p50_us));
            sl_jw_number(w, "p95_ms", ms3(h->p95_us));
            sl_jw_number(w, "p99_ms", ms3(h->p99_us));
        } else {
            sl_jw_null(w, "p50_ms");
            sl_jw_null(w, "p95_ms");
            sl_jw_null(w, "p99_ms");
        }
        sl_jw_end_object(w);
    }
    sl_jw_end_array(w);
}

void sl_report_thresholds_write(sl_jw_t *w, const char *key, const sl_snapshot_t *s)
{
    sl_jw_array(w, key);
    const sl_verdicts_t *v = s->outcome ? &s->outcome->thresholds : NULL;
    for (size_t i = 0; v && i < v->n; i++) {
        const sl_verdict_t *r = &v->item[i];
        sl_jw_object(w, NULL);
        sl_jw_string(w, "expr", r->expr);
        sl_jw_bool(w, "ok", r->ok);
        if (r->has_value)
            sl_jw_number(w, "observed", r->observed);
        else
            sl_jw_null(w, "observed");
        sl_jw_string(w, "unit", r->unit);
        sl_jw_end_object(w);
    }
    sl_jw_end_array(w);
}
