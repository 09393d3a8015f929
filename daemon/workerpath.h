/*
 * Where the bundled drover-worker is: $DROVER_WORKER, else next to us when
 * we run from the build tree, else the installed libexec path.
 */
#ifndef DROVER_WORKERPATH_H
#define DROVER_WORKERPATH_H

const char	*workerpath(void);

#endif
