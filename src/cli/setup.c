/* The run's set-up from the options (see setup.h): the prepared scenario
 * (scenario/prepare.h), then what the CLI adds to it, in the order errors are reported. */
#include "cli/setup.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "scenario/prepare.h"

/* err's message with a prefix in front. */
/* --http2 / --h2c against the host's scheme: h2 by ALPN needs TLS, h2c needs its
 * absence. */
static int setup_http2(sl_run_setup_t *s, const sl_options_t *opts, sl_err_t *err)
{
    if (opts->http2 && opts->h2c) {
        sl_err_set(err, "--http2 and --h2c: give one (--http2 for https://, --h2c for http://)");
        return SL_EINVAL;
    }
    if (opts->http2 && !s->sc.url.tls) {
        sl_err_set(err,
                   "--http2: the host (%s) is http://; h2 is offered by ALPN over TLS: use "
                   "an https:// host, or --h2c for cleartext HTTP/2",
                   s->sc.host);
        return SL_EINVAL;
    }
    if (opts->h2c && s->sc.url.tls) {
        sl_err_set(err, "--h2c: the host (%s) is https://; use --http2 for HTTP/2 over TLS",
                   s->sc.host);
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

int sl_run_setup(sl_run_setup_t *s, sl_options_t *opts, sl_err_t *err)
{
    memset(s, 0, sizeof(*s));
    sl_prepare_args_t pa = {.file = opts->file,
                            .tags = opts->tags,
                            .exclude_tags = opts->exclude_tags,
                            .list_only = opts->list,
                            .host = opts->host,
                            .max_rows = opts->max_rows};
    int rc = sl_scenario_prepare(&pa, &s->sc, err);
    if (rc != 0 || opts->list)
        return rc;
    if ((rc = sl_endpoint_resolve(&s->ep, s->sc.url.host, s->sc.url.port, err)) != 0)
        return blame(err, s->sc.host_origin, rc);
    if (s->sc.url.tls) {
        if (!(s->tls = sl_tls_ctx_new(opts->insecure, err)))
            return SL_EINVAL;
        sl_endpoint_use_tls(&s->ep, s->tls);
    }
    if ((rc = setup_http2(s, opts, err)) != 0)
        return rc;
    /* The flag wins over the file's stages. */
    if (s->sc.has_stages && !opts->stages)
        opts->stages = &s->sc.stages;
    if (!opts->seed_set)
        opts->seed = sl_wall_us() ^ ((uint64_t)getpid() << 32);
    if (!(s->texts = sl_rows_new(0, NULL))) {
        sl_err_set(err, "out of memory");
        return SL_ENOMEM;
    }
    for (uint32_t i = 0; i < opts->nthresholds; i++) {
        if ((rc = sl_thresholds_add(&s->thresholds, opts->thresholds[i], err)) != 0)
            return blame(err, "--threshold", rc);
    }
    s->local = (sl_local_cfg_t){.plan = &s->sc.plan,
                                .rows = s->sc.plan.rows,
                                .texts = s->texts,
                                .ep = &s->ep,
                                .url = &s->sc.url,
                                .timeout_us = opts->timeout_us,
                                .stop_timeout_us = opts->stop_timeout_us};
    return 0;
}

void sl_run_setup_dispose(sl_run_setup_t *s)
{
    sl_thresholds_dispose(&s->thresholds);
    sl_rows_free(s->texts);
    sl_tls_ctx_free(s->tls);
    sl_scenario_dispose(&s->sc);
    memset(s, 0, sizeof(*s));
}
