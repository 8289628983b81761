/* `stormlight new [FILE]`: writes a commented starter scenario (default
 * stormlight_file.lua), refusing to overwrite a file. */
#ifndef SL_CLI_NEW_H
#define SL_CLI_NEW_H

#include <stdio.h>

#include "sl.h"

/* argv: the words after "new". Returns 0 (and says on out what it wrote), or SL_EINVAL /
 * SL_ESYS with the message in err. */
int sl_cli_new(int argc, char **argv, FILE *out, sl_err_t *err);

#endif
