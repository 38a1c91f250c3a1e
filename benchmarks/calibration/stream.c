/* Streaming: STREAM's triad a[i] = b[i] + s * c[i] over three arrays far larger than the L3
   (a bandwidth-bound kernel like SPEC lbm: every line read from DRAM, every written line
   written back). The region of interest (Sniper's SimRoiStart/End, recorded with
   record-trace --roi) excludes the arrays' initialization.
   usage: stream [MiB per array] [passes] (defaults 32, 2) */
#include <stdio.h>
#include <stdlib.h>
#include "sim_api.h"
int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 32;
    int passes = argc > 2 ? atoi(argv[2]) : 2;
    size_t n = mib * 1024 * 1024 / sizeof(double);
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double)),
           *c = malloc(n * sizeof(double));
    if (!a || !b || !c) { perror("malloc"); return 1; }
    for (size_t i = 0; i < n; i++) { a[i] = 0.0; b[i] = (double)i; c[i] = 0.5 * (double)i; }
    SimRoiStart();
    for (int k = 0; k < passes; k++)
        for (size_t i = 0; i < n; i++) a[i] = b[i] + 3.0 * c[i];
    SimRoiEnd();
    printf("stream: %zu MiB x 3, %d passes, a[n/2]=%g\n", mib, passes, a[n / 2]);
    return 0;
}
