/* gort.h - Go's runtime, in C. The one umbrella header.
 *
 *   #include <gort.h>
 *   int gort_main(int argc, char **argv) { gort_go(worker, NULL); ... }
 *
 * Build: cc prog.c $(pkg-config --cflags --libs gort)
 * See README.md and docs/ for the model and the API contract. */
#ifndef GORT_H
#define GORT_H

#include <gort/export.h>
#include <gort/core.h>
#include <gort/sync.h>
#include <gort/chan.h>
#include <gort/alloc.h>
#include <gort/hash.h>
#include <gort/io.h>

#endif /* GORT_H */
