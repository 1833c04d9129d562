/* main.c - libgort_main: the main() that lets gort own the process, as a
 * Go binary's entry belongs to the runtime. It is a separate static archive
 * so it is linked only into programs that do not define main themselves
 * (an archive member is pulled in only to satisfy an undefined symbol):
 * such a program defines gort_main instead. pkg-config's "gort" and the
 * CMake target gort::main put it on the link line before libgort. */
#include <gort.h>

/* rt0 (src/asm/rt0_*.S), exported by libgort for this archive only; not
 * part of the public API, so declared here rather than in a header. */
GORT_API int gort__rt0_go(int argc, char **argv, char **envp, int (*umain)(int, char **));

int main(int argc, char **argv, char **envp)
{
    return gort__rt0_go(argc, argv, envp, gort_main);
}
