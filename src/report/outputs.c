/* The report files a run writes besides the JSON summary (CSV, HDR log, HTML), behind one
 * open / tick / finish interface for main.c. Owns the writers it opened. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/outputs.h"

#include "report/csv.h"
#include "report/hdrlog.h"
#include "report/html.h"

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
        int wrc = sl_html_write(o->html, s, o->cfg.scenario_file, o->cfg.timeout_us);
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
