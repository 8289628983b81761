/* Live keys on a terminal: stdin in non-canonical mode without echo while a test runs,
 * restored at exit (and on a signal, by the caller's exit path). */
#ifndef SL_CLI_KEYS_H
#define SL_CLI_KEYS_H

#include <stdbool.h>

#include "control/control.h"

/* Whether stdin is a terminal whose modes we may change without being stopped by
 * SIGTTOU: our controlling terminal with our process group in its foreground, or a
 * terminal that is not our controlling one. */
bool sl_keys_foreground(void);
/* Puts stdin in key-at-a-time mode when it is a terminal and we are in its foreground.
 * Returns its fd, or -1 when there are no keys (not a terminal, or in the background). */
int sl_keys_open(void);
/* Restores the terminal. Safe to call more than once, when sl_keys_open returned -1, and
 * from a signal handler (async-signal-safe). */
void sl_keys_close(void);
/* Reads the keys typed so far (non-blocking) into buf; returns how many. */
int sl_keys_read(char *buf, int len);

/* Reads the keys typed so far and carries them out through the controller: w/W add 1/10
 * users, s/S remove 1/10 (closed model), r/R raise and f/F lower the rate by 1%/10%
 * (open model), q stops the run (stop reason "key"). Main thread. */
void sl_keys_apply(sl_control_t *ctl);

#endif
