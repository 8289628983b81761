/* The prepare step (see prepare.h): the scenario's steps in the order their errors are
 * reported. */
#include "scenario/prepare.h"

#include <stdio.h>
#include <string.h>

#include "scenario/scenario.h"

/* err's message with a prefix in front. */
static int blame(sl_err_t *err, const char *prefix, int rc)
{
    char msg[sizeof(err->msg)];
    snprintf(msg, sizeof(msg), "%s", err->msg);
    sl_err_set(err, "%s: %s", prefix, msg);
    return rc;
}

/* The tasks' rows into the run's registry, which holds at most max_rows of them. */
static int register_rows(sl_scenario_t *sc, const sl_prepare_args_t *a, sl_err_t *err)
{
    char overflow_name[64];
    snprintf(overflow_name, sizeof(overflow_name), "(other names, past --max-rows %u)",
             a->max_rows);
    size_t nrows = 0;
    int rc = sl_plan_index_rows(&sc->plan, a->max_rows, overflow_name, &nrows);
    if (rc == SL_ELIMIT) {
        sl_err_set(err,
                   "%s: the scenario declares %zu request rows, more than --max-rows %u "
                   "(raise it)",
                   a->file, nrows, a->max_rows);
        return SL_ELIMIT;
    }
    if (rc != SL_OK) {
        sl_err_set(err, "out of memory");
        return SL_ENOMEM;
    }
    return SL_OK;
}

int sl_scenario_prepare(const sl_prepare_args_t *a, sl_scenario_t *sc, sl_err_t *err)
{
    memset(sc, 0, sizeof(*sc));
    int rc = sl_scenario_load(a->file, &sc->plan, err);
    /* --tags before --list, so the list shows what a tag selection runs. */
    if (rc == 0)
        rc = sl_plan_filter_tags(&sc->plan, a->tags, a->exclude_tags, err);
    if (rc != 0 || a->list_only)
        return rc;
    sc->host = a->host ? a->host : sc->plan.host;
    if (!sc->host) {
        sl_err_set(err, "no host: give --host URL or set host = \"http://...\" in the "
                        "scenario file");
        return SL_EINVAL;
    }
    /* Name where the host came from: the flag, or the scenario file. */
    sc->host_origin = a->host ? "--host" : a->file;
    if ((rc = sl_url_parse(sc->host, &sc->url, err)) != 0)
        return blame(err, sc->host_origin, rc);
    if (sl_plan_render(&sc->plan, &sc->url) != 0) {
        sl_err_set(err, "out of memory while rendering requests");
        return SL_ENOMEM;
    }
    sc->shape = sl_shape_open(&sc->plan, &sc->stages, &sc->has_stages, err);
    if (!sc->shape && err->msg[0])
        return SL_EINVAL;
    return register_rows(sc, a, err);
}

void sl_scenario_dispose(sl_scenario_t *sc)
{
    sl_shape_free(sc->shape);
    sl_plan_dispose(&sc->plan);
    memset(sc, 0, sizeof(*sc));
}
