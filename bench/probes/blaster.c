// S4's fast load generator (bench/lib/blaster.ts builds and drives it): the same chatter as probes/loadgen.ts,
// from the same loopback sources (127.<octet>.<1 + i / 250>.<1 + i % 250>, one connected socket each), but sent
// from C, so that one CPU offers several hundred thousand datagrams a second: Node's dgram tops out near 130,000
// here, which is below the rates S4 must offer (twice the receiver's lossless limit; 200,000 shared).
//
//   blaster PORT SOURCES OCTET        then, per line on stdin:  RATE DURATION_MS PANIC_FILE|-
//   prints, per run:                  SENT ELAPSED_MS
// PANIC_FILE: records of [u32 source][u32 length][bytes], sent halfway through the run (whole panic logs).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *CHATTER[] = {
    "eth0: Link is Up - 25Gbps Full Duplex, Flow Control: None",
    "EXT4-fs (nvme1n1): mounted filesystem with ordered data mode. Quota mode: none.",
    "IPv6: ADDRCONF(NETDEV_CHANGE): cali7d1c9a3b2f4: link becomes ready",
    "audit: type=1400 audit(1732300000.123:4567): apparmor=\"STATUS\" operation=\"profile_replace\"",
    "kubelet[2314]: I1122 10:00:00.000000 2314 kubelet.go:2000] \"SyncLoop UPDATE\" source=\"api\"",
};
#define CHATTER_LINES (sizeof CHATTER / sizeof CHATTER[0])

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void die(const char *what) {
  fprintf(stderr, "blaster: %s: %s\n", what, strerror(errno));
  exit(1);
}

/** Sends the panic records of `path`, each from its source's socket. */
static void send_panics(const char *path, const int *fds, int sources) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) die(path);
  uint32_t header[2];
  static char data[65536];
  while (fread(header, sizeof header, 1, f) == 1) {
    if (header[1] > sizeof data || fread(data, 1, header[1], f) != header[1]) die("panic file truncated");
    if (send(fds[header[0] % (uint32_t)sources], data, header[1], 0) < 0 && errno != ECONNREFUSED) die("send panic");
  }
  fclose(f);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: blaster PORT SOURCES OCTET\n");
    return 2;
  }
  int port = atoi(argv[1]), sources = atoi(argv[2]), octet = atoi(argv[3]);
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  int *fds = calloc((size_t)sources, sizeof *fds);
  uint64_t *sequence = calloc((size_t)sources, sizeof *sequence);
  if (fds == NULL || sequence == NULL) die("calloc");
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  for (int i = 0; i < sources; i++) {
    struct sockaddr_in from = {.sin_family = AF_INET};
    char address[32];
    snprintf(address, sizeof address, "127.%d.%d.%d", octet, 1 + i / 250, 1 + i % 250);
    inet_pton(AF_INET, address, &from.sin_addr);
    fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
    if (fds[i] < 0) die("socket");
    if (bind(fds[i], (struct sockaddr *)&from, sizeof from) != 0) die("bind");
    if (connect(fds[i], (struct sockaddr *)&to, sizeof to) != 0) die("connect");
    sequence[i] = 1000;
  }
  printf("ready\n");
  fflush(stdout);

  uint64_t uptime = 1000000000;
  char line[512], panic_file[4096], packet[512];
  while (fgets(line, sizeof line, stdin) != NULL) {
    double rate, duration;
    if (sscanf(line, "%lf %lf %4095s", &rate, &duration, panic_file) != 3) {
      fprintf(stderr, "blaster: bad request: %s", line);
      return 2;
    }
    double started = now_ms(), elapsed = 0;
    uint64_t sent = 0;
    int source = 0, panics_sent = strcmp(panic_file, "-") == 0;
    while ((elapsed = now_ms() - started) < duration) {
      if (!panics_sent && elapsed >= duration / 2) {
        send_panics(panic_file, fds, sources);
        panics_sent = 1;
      }
      // Evenly: what is due by now, at most 2,000 at once (as loadgen.ts).
      uint64_t due = (uint64_t)(rate * elapsed / 1000);
      if (due > sent + 2000) due = sent + 2000;
      if (due <= sent) usleep(50); // caught up: leave the CPU to the receiver it shares it with
      for (; sent < due; sent++, source = (source + 1) % sources) {
        uptime += 7;
        const char *text = CHATTER[source % CHATTER_LINES];
        int length = source % 2 == 0
                         ? snprintf(packet, sizeof packet, "6,%llu,%llu,-;%s\n",
                                    (unsigned long long)sequence[source]++, (unsigned long long)uptime, text)
                         : snprintf(packet, sizeof packet, "<6>[%12.6f] %s\n", (double)uptime / 1e6, text);
        // A full receiver socket is the receiver's loss, counted there; the send itself does not fail on loopback.
        if (send(fds[source], packet, (size_t)length, 0) < 0 && errno != ECONNREFUSED) die("send");
      }
    }
    printf("%llu %.3f\n", (unsigned long long)sent, now_ms() - started);
    fflush(stdout);
  }
  return 0;
}
