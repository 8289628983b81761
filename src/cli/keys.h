/* Live keys on a terminal: stdin in non-canonical mode without echo while a test runs,
 * restored at exit (and on a signal, by the caller's exit path). */
#ifndef SL_CLI_KEYS_H
#define SL_CLI_KEYS_H

/* Puts stdin in key-at-a-time mode when it is a terminal. Returns its fd, or -1 when
 * stdin is not a terminal (then there are no keys). */
int sl_keys_open(void);
/* Restores the terminal. Safe to call more than once, and when sl_keys_open returned -1. */
void sl_keys_close(void);
/* Reads the keys typed so far (non-blocking) into buf; returns how many. */
int sl_keys_read(char *buf, int len);

#endif
