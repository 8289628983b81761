/* The run's set-up from the options (see setup.h): the steps in the order their errors
 * are reported. */
#include "cli/setup.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "scenario/scenario.h"

/* err's message with a prefix in front. */
/* --http2 / --h2c against the host's scheme: h2 by ALPN needs TLS, h2c needs its
 * absence. */
static int setup_http2(sl_run_setup_t *s, const sl_options_t *opts, sl_err_t *err)
{
    if (opts->http2 && opts->h2c) {
        sl_err_set(err, "--http2 and --h2c: give one (--http2 for https://, --h2c for http://)");
        return SL_EINVAL;
    }
    if (opts->http2 && !s->url.tls) {
        sl_err_set(err,
                   "--http2: the host (%s) is http://; h2 is offered by ALPN over TLS: use "
                   "an https:// host, or --h2c for cleartext HTTP/2",
                   s->host);
        return SL_EINVAL;
    }
    if (opts->h2c && s->url.tls) {
        sl_err_set(err, "--h2c: the host (%s) is https://; use --http2 for HTTP/2 over TLS",
                   s->host);
        return SL_EINVAL;
    }
    s->ep.h2_window = opts->h2_window;
    if (opts->h2c)
        s->ep.h2_mode = SL_H2_PRIOR;
    if (opts->http2) {
        s->ep.h2_mode = SL_H2_ALPN;
        if (sl_tls_ctx_offer_h2(s->tls, err) != 0)
            return SL_EINVAL;
    }
    return 0;
}

static int blame(sl_err_t *err, const char *prefix, int rc)
{
    char msg[sizeof(err->msg)];
    snprintf(msg, sizeof(msg), "%s", err->msg);
    sl_err_set(err, "%s: %s", prefix, msg);
    return rc;
}

static int register_rows(sl_run_setup_t *s, const sl_options_t *opts, sl_err_t *err)
{
    const sl_plan_t *plan = &s->plan;
    if (plan->nrows > opts->max_rows) {
        sl_err_set(err,
                   "%s: the scenario declares %zu request rows, more than --max-rows %u "
                   "(raise it)",
                   opts->file, plan->nrows, opts->max_rows);
        return SL_ELIMIT;
    }
    /* The plan's rows take ids 0..nrows-1 in order, the ids its tasks already carry. */
    for (size_t i = 0; s->rows && i < plan->nrows; i++) {
        uint32_t id;
        if (sl_rows_intern(s->rows, plan->rows[i].method, plan->rows[i].name, &id) != 0 ||
            id != i) {
            sl_rows_free(s->rows);
            s->rows = NULL;
        }
    }
    if (!s->rows || !s->texts) {
        sl_err_set(err, "out of memory");
        return SL_ENOMEM;
    }
    return 0;
}

int sl_run_setup(sl_run_setup_t *s, sl_options_t *opts, sl_err_t *err)
{
    memset(s, 0, sizeof(*s));
    int rc = sl_scenario_load(opts->file, &s->plan, err);
    /* --tags before --list, so the list shows what a tag selection runs. */
    if (rc == 0)
        rc = sl_plan_filter_tags(&s->plan, opts->tags, opts->exclude_tags, err);
    if (rc != 0 || opts->list)
        return rc;
    char overflow_name[64];
    snprintf(overflow_name, sizeof(overflow_name), "(other names, past --max-rows %u)",
             opts->max_rows);
    s->rows = sl_rows_new(opts->max_rows, overflow_name);
    s->texts = sl_rows_new(0, NULL);
    s->host = opts->host ? opts->host : s->plan.host;
    if (!s->host) {
        sl_err_set(err, "no host: give --host URL or set host = \"http://...\" in the "
                        "scenario file");
        return SL_EINVAL;
    }
    /* Name where the host came from: the flag, or the scenario file. */
    const char *origin = opts->host ? "--host" : opts->file;
    if ((rc = sl_url_parse(s->host, &s->url, err)) != 0)
        return blame(err, origin, rc);
    if (sl_plan_render(&s->plan, &s->url) != 0) {
        sl_err_set(err, "out of memory while rendering requests");
        return SL_ENOMEM;
    }
    if ((rc = sl_endpoint_resolve(&s->ep, s->url.host, s->url.port, err)) != 0)
        return blame(err, origin, rc);
    if (s->url.tls) {
        if (!(s->tls = sl_tls_ctx_new(opts->insecure, err)))
            return SL_EINVAL;
        sl_endpoint_use_tls(&s->ep, s->tls);
    }
    if ((rc = setup_http2(s, opts, err)) != 0)
        return rc;
    /* `stages` and `shape` in the file (the flag wins over the file's stages). */
    bool file_has_stages = false;
    s->shape = sl_shape_open(&s->plan, &s->file_stages, &file_has_stages, err);
    if (!s->shape && err->msg[0])
        return SL_EINVAL;
    if (file_has_stages && !opts->stages)
        opts->stages = &s->file_stages;
    if (!opts->seed_set)
        opts->seed = sl_wall_us() ^ ((uint64_t)getpid() << 32);
    if ((rc = register_rows(s, opts, err)) != 0)
        return rc;
    for (uint32_t i = 0; i < opts->nthresholds; i++) {
        if ((rc = sl_thresholds_add(&s->thresholds, opts->thresholds[i], err)) != 0)
            return blame(err, "--threshold", rc);
    }
    s->local = (sl_local_cfg_t){.plan = &s->plan,
                                .rows = s->rows,
                                .texts = s->texts,
                                .ep = &s->ep,
                                .url = &s->url,
                                .timeout_us = opts->timeout_us,
                                .stop_timeout_us = opts->stop_timeout_us};
    return 0;
}

void sl_run_setup_dispose(sl_run_setup_t *s)
{
    sl_thresholds_dispose(&s->thresholds);
    sl_rows_free(s->rows);
    sl_rows_free(s->texts);
    sl_shape_free(s->shape);
    sl_tls_ctx_free(s->tls);
    sl_plan_dispose(&s->plan);
    memset(s, 0, sizeof(*s));
}
