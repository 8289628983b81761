/* Stages: "30s:100,1m:100,30s:0" — ramp linearly to each target over each duration
 * (users in the closed model, iterations per second with --rate), k6's ramping model. */
#ifndef SL_SCENARIO_STAGES_H
#define SL_SCENARIO_STAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl.h"

#define SL_STAGES_MAX 256

typedef struct sl_stage {
    uint64_t duration_us;
    double target;
} sl_stage_t;

typedef struct sl_stages {
    sl_stage_t stage[SL_STAGES_MAX];
    size_t n;
} sl_stages_t;

/* Parses "DUR:TARGET[,DUR:TARGET...]" (durations as sl_duration_parse, targets numbers
 * >= 0). Returns 0 or SL_EINVAL with a message naming the stage. */
int sl_stages_parse(const char *spec, sl_stages_t *out, sl_err_t *err);

/* Total duration of all stages. */
uint64_t sl_stages_total_us(const sl_stages_t *st);

/* The largest target. */
double sl_stages_max(const sl_stages_t *st);

/* The value at elapsed_us, ramping from `start` to the first target; the last target
 * after the end. */
double sl_stages_value(const sl_stages_t *st, double start, uint64_t elapsed_us);

#endif
