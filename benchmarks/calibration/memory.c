/* Memory-bound over a 64 MiB buffer: a pointer chase over its cache lines (each step a
   dependent load to a line P lines further on, modulo the buffer), then a streaming sum.
   usage: memory [MiB] [chase steps] [stream passes] (defaults 64, 1000000, 1) */
#include <stdio.h>
#include <stdlib.h>
#define LINE 64
typedef struct node { struct node *next; long pad[LINE / sizeof(long) - 1]; } node;
int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 64;
    long steps = argc > 2 ? atol(argv[2]) : 1000000;
    int passes = argc > 3 ? atoi(argv[3]) : 1;
    size_t n = mib * 1024 * 1024 / sizeof(node);
    const size_t stride = 611953; /* prime, so i -> i + stride (mod n) is one cycle over all lines */
    node *buf = malloc(n * sizeof(node));
    if (!buf) { perror("malloc"); return 1; }
    for (size_t i = 0; i < n; i++) { buf[i].next = &buf[(i + stride) % n]; buf[i].pad[0] = (long)i; }
    node *p = buf;
    for (long s = 0; s < steps; s++) p = p->next;
    long sum = 0;
    for (int k = 0; k < passes; k++)
        for (size_t i = 0; i < n; i++) sum += buf[i].pad[0] + (long)(buf[i].next - buf);
    printf("memory: %zu MiB, %ld steps -> line %ld, stream sum %ld\n", mib, steps, (long)(p - buf), sum);
    return 0;
}
