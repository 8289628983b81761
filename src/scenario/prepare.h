/* The scenario's one prepare step: from a file name and the run's choices to a plan that
 * is ready to run. The order of the steps lives here, with the module that knows it:
 * load (the file runs once), --tags, then the host, the rendered requests, the file's
 * stages and shape (read from the same load), and the rows in the row registry. Main
 * thread. */
#ifndef SL_SCENARIO_PREPARE_H
#define SL_SCENARIO_PREPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/url.h"
#include "scenario/plan.h"
#include "scenario/shape.h"
#include "scenario/stages.h"

typedef struct sl_prepare_args {
    const char *file; /* the scenario file */
    const char *tags; /* --tags / --exclude-tags (comma lists), NULL = none */
    const char *exclude_tags;
    bool list_only;    /* stop after --tags: enough for --list */
    const char *host;  /* --host, or NULL for the file's `host` */
    uint32_t max_rows; /* --max-rows: the row registry's limit */
} sl_prepare_args_t;

/* A prepared scenario. Everything in it is owned by it (host borrows from the args or
 * the plan). */
typedef struct sl_scenario {
    sl_plan_t plan;          /* tags applied, requests rendered, rows in plan.rows */
    const char *host;        /* args->host, else the file's host */
    const char *host_origin; /* "--host" or the file: where the host came from */
    sl_url_t url;            /* host, parsed */
    sl_shape_t *shape;       /* the file's shape(), or NULL */
    sl_stages_t stages;      /* the file's `stages`, when has_stages */
    bool has_stages;
} sl_scenario_t;

/* Loads args->file and applies the tags; with list_only it stops there. Otherwise picks
 * and parses the host, renders every request for it, reads the file's stages and shape
 * from the state it was loaded in, and registers the tasks' rows in a registry of
 * args->max_rows rows whose overflow row is "(other names, past --max-rows N)". Returns
 * 0, or an SL_E* code with the message a user reads in err (errors keep this order: the
 * file, the tags, the host, the stages or shape, the rows). Dispose *sc in either case. */
int sl_scenario_prepare(const sl_prepare_args_t *args, sl_scenario_t *sc, sl_err_t *err);
void sl_scenario_dispose(sl_scenario_t *sc);

#endif
