/* The web UI's files (web/ and uPlot from npm), compiled into the binary by
 * cmake/embed.cmake so that the page works offline and from any directory. */
#ifndef SL_WEB_ASSETS_H
#define SL_WEB_ASSETS_H

#include <stddef.h>

typedef struct sl_web_asset {
    const char *url;  /* "/", "/app.js", ... */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} sl_web_asset_t;

/* The asset served at url, or NULL. */
const sl_web_asset_t *sl_web_asset(const char *url);

#endif
