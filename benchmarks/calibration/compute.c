/* Compute-bound: a dependent floating-point and integer loop in registers (no memory traffic).
   usage: compute [iterations] (default 4000000) */
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 4000000;
    double x = 1.0, y = 0.5;
    unsigned long h = 1469598103934665603UL;
    for (long i = 0; i < n; i++) {
        x = x * 1.0000001 + y;
        y = y * 0.9999999 - 1e-9 * x;
        h = (h ^ (unsigned long)i) * 1099511628211UL;
    }
    printf("compute: %ld iterations, x=%.6g y=%.6g h=%lx\n", n, x, y, h);
    return 0;
}
