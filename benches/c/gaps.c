/* How often this CPU is taken away from a running thread: spins reading
 * CLOCK_MONOTONIC for SECONDS and counts the gaps between two readings
 * longer than 0.5, 2 and 5 ms (benches/README.md, the collector section).
 *
 *   cc -O2 -o gaps benches/c/gaps.c
 *   taskset -c 0 ./gaps 10 & taskset -c 1 ./gaps 10; wait
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
        return 2;
    }
    double seconds = atof(argv[1]);
    double start = now(), last = start, worst = 0;
    long over_half = 0, over_2 = 0, over_5 = 0;
    for (;;) {
        double t = now();
        double gap = t - last;
        over_half += gap > 0.0005;
        over_2 += gap > 0.002;
        over_5 += gap > 0.005;
        if (gap > worst) {
            worst = gap;
        }
        last = t;
        if (t - start > seconds) {
            break;
        }
    }
    printf("gaps > 0.5 ms: %ld, > 2 ms: %ld, > 5 ms: %ld, worst %.2f ms\n", over_half, over_2,
           over_5, worst * 1000);
    return 0;
}
