/* Mixed: a pointer chase over a large buffer (one dependent DRAM miss per step) with a block of
   register-only floating-point and integer work after every step, independent of the chase so an
   out-of-order core overlaps the two. The region of interest (Sniper's SimRoiStart/End, recorded
   with record-trace --roi) excludes the buffer's initialization.
   usage: mixed [MiB] [steps] [work per step] (defaults 64, 200000, 16) */
#include <stdio.h>
#include <stdlib.h>
#include "sim_api.h"
#define LINE 64
typedef struct node { struct node *next; long pad[LINE / sizeof(long) - 1]; } node;
int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 64;
    long steps = argc > 2 ? atol(argv[2]) : 200000;
    long work = argc > 3 ? atol(argv[3]) : 16;
    size_t n = mib * 1024 * 1024 / sizeof(node);
    const size_t stride = 611953; /* prime: i -> i + stride (mod n) visits every line */
    node *buf = malloc(n * sizeof(node));
    if (!buf) { perror("malloc"); return 1; }
    for (size_t i = 0; i < n; i++) { buf[i].next = &buf[(i + stride) % n]; buf[i].pad[0] = (long)i; }
    double x = 1.0, y = 0.5;
    unsigned long h = 1469598103934665603UL;
    node *p = buf;
    SimRoiStart();
    for (long s = 0; s < steps; s++) {
        p = p->next;
        for (long k = 0; k < work; k++) {
            x = x * 1.0000001 + y;
            y = y * 0.9999999 - 1e-9 * x;
            h = (h ^ (unsigned long)k) * 1099511628211UL;
        }
    }
    SimRoiEnd();
    printf("mixed: %zu MiB, %ld steps x %ld -> line %ld, x=%.6g h=%lx\n", mib, steps, work,
           (long)(p - buf), x, h);
    return 0;
}
