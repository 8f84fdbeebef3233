/* The floor of a machine for the TLS-RPT collector benchmark
 * (benches/README.md, "The TLS-RPT collector under load"): a receiver
 * that does nothing but recv(), on CPU 0, and a sender on CPU 1 that
 * sends RATE datagrams per second (323 bytes, evenly spaced, 16
 * non-blocking unbound AF_UNIX datagram sockets in turn, as
 * tlsrpt_flood), counting those refused with EAGAIN (queue full) as
 * lost. The queue length is net.unix.max_dgram_qlen.
 *
 *   cc -O2 -pthread -o bare_receiver benches/c/bare_receiver.c
 *   ./bare_receiver RATE COUNT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *path = "/tmp/bare-receiver.sock";
static volatile int stop = 0;
static long received = 0;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void *receive(void *arg) {
    int fd = *(int *)arg;
    static char buf[70000];
    struct timeval tv = {0, 100000};
    pin(0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (!stop) {
        if (recv(fd, buf, sizeof buf, 0) > 0) {
            received++;
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s RATE COUNT\n", argv[0]);
        return 2;
    }
    double rate = atof(argv[1]);
    long count = atol(argv[2]);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    unlink(path);
    int rx = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (rx < 0 || bind(rx, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("bind");
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, receive, &rx);
    pin(1);
    usleep(100000);
    int tx[16];
    for (int i = 0; i < 16; i++) {
        tx[i] = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    }
    char msg[323];
    memset(msg, 'x', sizeof msg);
    long lost = 0;
    double start = now();
    for (long i = 0; i < count; i++) {
        while ((long)((now() - start) * rate) < i) {
        }
        if (sendto(tx[i % 16], msg, sizeof msg, 0, (struct sockaddr *)&addr, sizeof addr) < 0) {
            if (errno != EAGAIN) {
                perror("sendto");
                return 1;
            }
            lost++;
        }
    }
    usleep(200000);
    stop = 1;
    pthread_join(t, NULL);
    unlink(path);
    printf("rate %.0f/s: sent %ld, lost %ld (%.3f%%), received %ld\n", rate, count, lost,
           100.0 * lost / count, received);
    return 0;
}
