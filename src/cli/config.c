/* Config file and environment, merged into one argument vector (see config.h). Owns every
 * string it makes; the real argv is only pointed to. */
#include "cli/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/options.h"

#define DEFAULT_FILE "stormlight.conf"
#define ENV_PREFIX "STORMLIGHT_"

/* One option from the file or the environment, before it becomes an argument. */
typedef struct entry {
    char *key;    /* long option name, normalised: "run-time" */
    char *value;  /* NULL for a boolean */
    bool on;      /* a boolean's value */
    char *origin; /* "stormlight.conf:3" or "STORMLIGHT_RUN_TIME" */
} entry_t;

typedef struct entries {
    entry_t *items;
    size_t n, cap;
} entries_t;

static char *keep(sl_config_t *cfg, char *s)
{
    if (!s)
        return NULL;
    char **owned = realloc(cfg->owned, (cfg->nowned + 1) * sizeof(*owned));
    if (!owned) {
        free(s);
        return NULL;
    }
    owned[cfg->nowned++] = s;
    cfg->owned = owned;
    return s;
}

/* "--key=value", or "--key" for a boolean (value NULL). */
static char *make_arg(sl_config_t *cfg, const char *key, const char *value)
{
    size_t len = strlen(key) + (value ? strlen(value) : 0) + 4;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "--%s%s%s", key, value ? "=" : "", value ? value : "");
    return keep(cfg, s);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* "Run_Time" -> "run-time": keys are long option names, and people write both. */
static void normalise_key(char *k)
{
    for (; *k; k++)
        *k = *k == '_' ? '-' : (char)tolower((unsigned char)*k);
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < SL_ARRAY_LEN(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Checks key and value and appends the entry; key and value are copied. */
static int add_entry(sl_config_t *cfg, entries_t *list, const char *origin, char *key,
                     const char *value, sl_err_t *err)
{
    normalise_key(key);
    bool takes_value;
    if (strcmp(key, "config") == 0 || strcmp(key, "help") == 0 || strcmp(key, "version") == 0 ||
        sl_options_lookup(key, &takes_value) != SL_OK) {
        sl_err_set(err, "%s: unknown option '%s' (keys are long option names, see --help)", origin,
                   key);
        return SL_EINVAL;
    }
    entry_t e = {.origin = keep(cfg, strdup(origin)), .key = keep(cfg, strdup(key))};
    if (!e.origin || !e.key)
        goto oom;
    if (takes_value) {
        if (!(e.value = keep(cfg, strdup(value))))
            goto oom;
    } else if (!parse_bool(value, &e.on)) {
        sl_err_set(err, "%s: %s: expected true or false, got '%s'", origin, key, value);
        return SL_EINVAL;
    }
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        entry_t *items = realloc(list->items, cap * sizeof(*items));
        if (!items)
            goto oom;
        list->items = items;
        list->cap = cap;
    }
    list->items[list->n++] = e;
    return SL_OK;
oom:
    sl_err_set(err, "out of memory");
    return SL_ENOMEM;
}

static int read_file(sl_config_t *cfg, const char *path, bool explicit_path, entries_t *list,
                     sl_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!explicit_path && errno == ENOENT)
            return SL_OK;
        sl_err_set(err, "%s: cannot read '%s': %s", explicit_path ? "--config" : path, path,
                   strerror(errno));
        return SL_ESYS;
    }
    if (!(cfg->path = strdup(path))) {
        fclose(f);
        sl_err_set(err, "out of memory");
        return SL_ENOMEM;
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = SL_OK;
    ssize_t got;
    for (unsigned lineno = 1; rc == SL_OK && (got = getline(&line, &cap, f)) != -1; lineno++) {
        char origin[600];
        snprintf(origin, sizeof(origin), "%s:%u", path, lineno);
        /* Everything below works on C strings, so a NUL would silently cut the line
         * short ("\0users = 5" would read as an empty line): refuse it instead. */
        if (memchr(line, '\0', (size_t)got)) {
            sl_err_set(err, "%s: a NUL byte in the line (is this a text file?)", origin);
            rc = SL_EINVAL;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            sl_err_set(err, "%s: expected 'key = value' (e.g. users = 10)", origin);
            rc = SL_EINVAL;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        size_t vlen = strlen(value);
        /* A value in matching quotes loses them: host = "http://127.0.0.1:8000". */
        if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) {
            value[vlen - 1] = '\0';
            value++;
        }
        if (*key == '\0') {
            sl_err_set(err, "%s: missing key before '='", origin);
            rc = SL_EINVAL;
            break;
        }
        rc = add_entry(cfg, list, origin, key, value, err);
    }
    if (rc == SL_OK && ferror(f)) {
        sl_err_set(err, "%s: read error: %s", path, strerror(errno));
        rc = SL_ESYS;
    }
    free(line);
    fclose(f);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_env(sl_config_t *cfg, char **envp, entries_t *list, sl_err_t *err)
{
    size_t n = 0;
    for (char **e = envp; e && *e; e++)
        n += strncmp(*e, ENV_PREFIX, strlen(ENV_PREFIX)) == 0;
    if (n == 0)
        return SL_OK;
    /* Sorted, so that the order (and thus which of two spellings wins) never depends on
     * how the environment happened to be laid out. */
    char **vars = malloc(n * sizeof(*vars));
    if (!vars) {
        sl_err_set(err, "out of memory");
        return SL_ENOMEM;
    }
    n = 0;
    for (char **e = envp; *e; e++) {
        if (strncmp(*e, ENV_PREFIX, strlen(ENV_PREFIX)) == 0)
            vars[n++] = *e;
    }
    qsort(vars, n, sizeof(*vars), cmp_str);
    int rc = SL_OK;
    for (size_t i = 0; i < n && rc == SL_OK; i++) {
        const char *eq = strchr(vars[i], '=');
        if (!eq)
            continue;
        size_t name_len = (size_t)(eq - vars[i]);
        char *name = strndup(vars[i], name_len);
        char *key = name ? strdup(name + strlen(ENV_PREFIX)) : NULL;
        if (!name || !key) {
            sl_err_set(err, "out of memory");
            rc = SL_ENOMEM;
        } else if (strcmp(key, "CONFIG") != 0) {
            rc = add_entry(cfg, list, name, key, eq + 1, err);
        }
        free(name);
        free(key);
    }
    free(vars);
    return rc;
}

/* The config file named on the real command line, if any: "--config PATH" or
 * "--config=PATH" (or an unambiguous abbreviation, which getopt would also accept). */
static const char *config_flag(int argc, char **argv, sl_err_t *err, bool *missing)
{
    *missing = false;
    const char *found = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strncmp(a, "--conf", 6) != 0)
            continue;
        size_t klen = strcspn(a + 2, "=");
        if (strncmp("config", a + 2, klen) != 0 || klen > 6)
            continue;
        if (a[2 + klen] == '=') {
            found = a + 3 + klen;
        } else if (i + 1 < argc) {
            found = argv[++i];
        } else {
            *missing = true;
            sl_err_set(err, "--config: missing value");
            return NULL;
        }
    }
    return found;
}

static bool env_has(char **envp, const char *name, const char **value)
{
    size_t n = strlen(name);
    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
            *value = *e + n + 1;
            return true;
        }
    }
    return false;
}

/* A boolean from the file that the environment also sets is decided by the environment. */
static bool overridden(const entries_t *env, const entry_t *e)
{
    for (size_t i = 0; i < env->n; i++) {
        if (!env->items[i].value && strcmp(env->items[i].key, e->key) == 0)
            return true;
    }
    return false;
}

static int push_entries(sl_config_t *cfg, const entries_t *list, const entries_t *later,
                        char **argv_out, int *n)
{
    for (size_t i = 0; i < list->n; i++) {
        const entry_t *e = &list->items[i];
        char *arg;
        if (!e->value && (!e->on || (later && overridden(later, e))))
            continue;
        arg = make_arg(cfg, e->key, e->value);
        if (!arg)
            return SL_ENOMEM;
        cfg->origins[*n] = e->origin;
        argv_out[(*n)++] = arg;
    }
    return SL_OK;
}

int sl_config_load(sl_config_t *cfg, int argc, char **argv, char **envp, sl_err_t *err)
{
    memset(cfg, 0, sizeof(*cfg));
    entries_t file = {0}, env = {0};
    int rc;
    bool missing;
    const char *path = config_flag(argc, argv, err, &missing);
    bool explicit_path = path != NULL;
    if (missing) {
        rc = SL_EINVAL;
        goto out;
    }
    if (!path && env_has(envp, ENV_PREFIX "CONFIG", &path)) {
        explicit_path = true;
        if (!*path) {
            sl_err_set(err, ENV_PREFIX "CONFIG: expected a path");
            rc = SL_EINVAL;
            goto out;
        }
    }
    if (!path)
        path = DEFAULT_FILE;
    if ((rc = read_file(cfg, path, explicit_path, &file, err)) != SL_OK)
        goto out;
    if ((rc = read_env(cfg, envp, &env, err)) != SL_OK)
        goto out;

    size_t total = 1 + file.n + env.n + (size_t)(argc > 0 ? argc - 1 : 0) + 1;
    cfg->argv = calloc(total, sizeof(*cfg->argv));
    cfg->origins = calloc(total, sizeof(*cfg->origins));
    if (!cfg->argv || !cfg->origins) {
        rc = SL_ENOMEM;
        goto oom;
    }
    int n = 0;
    cfg->argv[n++] = argc > 0 ? argv[0] : (char *)"stormlight";
    if ((rc = push_entries(cfg, &file, &env, cfg->argv, &n)) != SL_OK ||
        (rc = push_entries(cfg, &env, NULL, cfg->argv, &n)) != SL_OK)
        goto oom;
    cfg->nsynthetic = n - 1;
    for (int i = 1; i < argc; i++)
        cfg->argv[n++] = argv[i];
    cfg->argv[n] = NULL;
    cfg->argc = n;
    rc = SL_OK;
    goto out;
oom:
    sl_err_set(err, "out of memory");
out:
    free(file.items);
    free(env.items);
    return rc;
}

void sl_config_blame(const sl_config_t *cfg, sl_err_t *err)
{
    for (int i = 1; i <= cfg->nsynthetic; i++) {
        char *one[] = {cfg->argv[0], cfg->argv[i], NULL};
        sl_options_t opts;
        sl_err_t e;
        if (sl_options_parse(2, one, &opts, &e) != SL_OK) {
            sl_err_set(err, "%s: %s", cfg->origins[i], e.msg);
            return;
        }
    }
}

void sl_config_dispose(sl_config_t *cfg)
{
    for (size_t i = 0; i < cfg->nowned; i++)
        free(cfg->owned[i]);
    free(cfg->owned);
    free(cfg->argv);
    free(cfg->origins);
    free(cfg->path);
    memset(cfg, 0, sizeof(*cfg));
}
