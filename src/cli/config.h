/* Options from a configuration file and from STORMLIGHT_* environment variables.
 *
 * The file (`--config PATH`, else $STORMLIGHT_CONFIG, else ./stormlight.conf when it
 * exists) holds Locust-style `key = value` lines, keys being long option names without
 * the dashes (`users = 10`, `run-time = 30s`, `quiet = true`); `#` or `;` starts a comment
 * line. STORMLIGHT_USERS=10, STORMLIGHT_RUN_TIME=30s and so on do the same from the
 * environment.
 *
 * Rather than a second parser, the entries are turned into arguments and put in front of
 * the real ones: argv[0], the file's entries, the environment's, then the command line.
 * getopt keeps the last value it sees, so flags beat the environment, which beats the
 * file, and every value is checked by the same code with the same messages. Booleans are
 * resolved here (an environment `false` cancels a file's `true`); repeatable options
 * (threshold) accumulate across the sources. No exit(): problems come back in err. */
#ifndef SL_CLI_CONFIG_H
#define SL_CLI_CONFIG_H

#include <stddef.h>

#include "sl.h"

typedef struct sl_config {
    int argc;
    char **argv;    /* the merged argument vector, NULL-terminated, owned */
    int nsynthetic; /* argv[1..nsynthetic] came from the file and the environment */
    char **origins; /* "stormlight.conf:3" or "STORMLIGHT_USERS" for those, owned */
    char *path;     /* the file that was read, or NULL, owned */
    char **owned;   /* strings allocated here */
    size_t nowned;
} sl_config_t;

/* Builds cfg->argv from the config file, envp (NULL-terminated "NAME=value" strings, as
 * environ) and the real argv, which is borrowed and must outlive cfg. Returns 0, or
 * SL_EINVAL / SL_ESYS / SL_ENOMEM with a message naming the file and line, the variable,
 * or --config. cfg must be disposed either way. */
int sl_config_load(sl_config_t *cfg, int argc, char **argv, char **envp, sl_err_t *err);

/* Called after sl_options_parse failed on cfg->argv with err: when the culprit is an entry
 * from the file or the environment, prefixes err with where it came from
 * ("stormlight.conf:3: --users: expected a positive integer, got 'ten'"). */
void sl_config_blame(const sl_config_t *cfg, sl_err_t *err);

void sl_config_dispose(sl_config_t *cfg);

#endif
