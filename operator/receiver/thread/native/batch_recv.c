// Batched UDP receive for a receive thread (thread/batch-udp.ts): one recvmmsg(2) takes up to a batch of
// datagrams into one reusable buffer the thread owns, with each datagram's source address, the kernel's receive
// timestamp (SO_TIMESTAMPNS); socketFill reads the socket's queue and drop counter. JavaScript gets one call per batch, not
// one callback, one Buffer and one address string per datagram. Node-API only (ABI-stable across Node versions);
// no libuv: the thread waits in poll(2) with a short timeout and returns to its event loop between batches.
//
//   open(host, port, ipv6, receiveBufferBytes, reusePort) -> [fd, boundPort, grantedReceiveBufferBytes]
//   receive(fds: Int32Array, timeoutMs, slab: Uint8Array, meta: Float64Array, addresses: Uint8Array) -> count
//       slab holds `slots` slots of SLOT_BYTES; meta holds META_FIELDS numbers per slot:
//       [length, truncated, addressLength, family (4 or 6), port, receivedAtMs]; addresses ADDRESS_BYTES per slot,
//       the source address as inet_ntop(3) writes it (as libuv does for dgram's rinfo.address).
//   socketFill(fd) -> [queuedBytes, receiveBufferBytes, dropped]   (SO_MEMINFO)
//   close(fd)
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>

#define SLOT_BYTES 2048
#define META_FIELDS 6
#define MAX_BATCH 256
#define MAX_FDS 8
#define ADDRESS_BYTES 48

#define CHECK(call)                                                                                                  \
  do {                                                                                                               \
    if ((call) != napi_ok) return throw_message(env, "Node-API call failed: " #call);                                \
  } while (0)

static napi_value throw_message(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

/** Throws an Error whose code is the errno's name (EADDRINUSE, …), as Node's own socket errors carry. */
static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  const char *code = strerrorname_np(err);
  napi_throw_error(env, code != NULL ? code : "EUNKNOWN", message);
  return NULL;
}

static napi_value number_array(napi_env env, const double *values, size_t count) {
  napi_value array;
  if (napi_create_array_with_length(env, count, &array) != napi_ok) return NULL;
  for (size_t i = 0; i < count; i++) {
    napi_value value;
    if (napi_create_double(env, values[i], &value) != napi_ok) return NULL;
    if (napi_set_element(env, array, (uint32_t)i, value) != napi_ok) return NULL;
  }
  return array;
}

static int enable(int fd, int level, int option) {
  int one = 1;
  return setsockopt(fd, level, option, &one, sizeof one);
}

static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 5) return throw_message(env, "open(host, port, ipv6, receiveBufferBytes, reusePort)");
  char host[64];
  size_t host_length;
  uint32_t port;
  bool ipv6, reuse_port;
  int32_t receive_buffer;
  CHECK(napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_length));
  CHECK(napi_get_value_uint32(env, argv[1], &port));
  CHECK(napi_get_value_bool(env, argv[2], &ipv6));
  CHECK(napi_get_value_int32(env, argv[3], &receive_buffer));
  CHECK(napi_get_value_bool(env, argv[4], &reuse_port));
  if (port > 65535) return throw_message(env, "port out of range");

  struct sockaddr_storage address;
  socklen_t address_length;
  memset(&address, 0, sizeof address);
  if (ipv6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&address;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) return throw_message(env, "not an IPv6 address");
    address_length = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&address;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return throw_message(env, "not an IPv4 address");
    address_length = sizeof *a;
  }

  int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int err = 0;
  const char *step = NULL;
  if (ipv6 && enable(fd, IPPROTO_IPV6, IPV6_V6ONLY) != 0) step = "IPV6_V6ONLY";
  else if (reuse_port && enable(fd, SOL_SOCKET, SO_REUSEPORT) != 0) step = "SO_REUSEPORT";
  else if (enable(fd, SOL_SOCKET, SO_TIMESTAMPNS) != 0) step = "SO_TIMESTAMPNS";
  else if (receive_buffer > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) != 0)
    step = "SO_RCVBUF";
  else if (bind(fd, (struct sockaddr *)&address, address_length) != 0) step = "bind";
  if (step != NULL) {
    err = errno;
    close(fd);
    return throw_errno(env, step, err);
  }
  int granted = 0;
  socklen_t granted_length = sizeof granted;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &granted_length);
  struct sockaddr_storage bound;
  socklen_t bound_length = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &bound_length);
  uint16_t bound_port = ipv6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                             : ntohs(((struct sockaddr_in *)&bound)->sin_port);
  // Linux reports twice what it accounts as usable (the other half is its bookkeeping), as dgram's getter does.
  double result[3] = {fd, bound_port, granted};
  return number_array(env, result, 3);
}

static void fill_meta(double *meta, char *text, const struct mmsghdr *message, const struct sockaddr_storage *from) {
  meta[0] = message->msg_len;
  meta[1] = (message->msg_hdr.msg_flags & MSG_TRUNC) != 0;
  text[0] = 0;
  if (from->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;
    meta[3] = 6;
    meta[4] = ntohs(a->sin6_port);
    inet_ntop(AF_INET6, &a->sin6_addr, text, ADDRESS_BYTES);
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)from;
    meta[3] = 4;
    meta[4] = ntohs(a->sin_port);
    inet_ntop(AF_INET, &a->sin_addr, text, ADDRESS_BYTES);
  }
  meta[2] = (double)strnlen(text, ADDRESS_BYTES);
  meta[5] = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&message->msg_hdr); c != NULL;
       c = CMSG_NXTHDR((struct msghdr *)&message->msg_hdr, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
      struct timespec ts;
      memcpy(&ts, CMSG_DATA(c), sizeof ts);
      meta[5] = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
    }
  }
}

#define CONTROL_BYTES CMSG_SPACE(sizeof(struct timespec))

static napi_value receive(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 5) return throw_message(env, "receive(fds, timeoutMs, slab, meta, addresses)");
  napi_typedarray_type type;
  size_t fd_count, slab_bytes, meta_count, address_bytes, offset;
  void *fds_data, *slab, *meta_data, *address_data;
  napi_value arraybuffer;
  CHECK(napi_get_typedarray_info(env, argv[0], &type, &fd_count, &fds_data, &arraybuffer, &offset));
  if (type != napi_int32_array || fd_count == 0 || fd_count > MAX_FDS) return throw_message(env, "fds: Int32Array of 1-8");
  int32_t timeout_ms;
  CHECK(napi_get_value_int32(env, argv[1], &timeout_ms));
  CHECK(napi_get_typedarray_info(env, argv[2], &type, &slab_bytes, &slab, &arraybuffer, &offset));
  if (type != napi_uint8_array) return throw_message(env, "slab: Uint8Array");
  CHECK(napi_get_typedarray_info(env, argv[3], &type, &meta_count, &meta_data, &arraybuffer, &offset));
  if (type != napi_float64_array) return throw_message(env, "meta: Float64Array");
  CHECK(napi_get_typedarray_info(env, argv[4], &type, &address_bytes, &address_data, &arraybuffer, &offset));
  if (type != napi_uint8_array) return throw_message(env, "addresses: Uint8Array");
  size_t slots = slab_bytes / SLOT_BYTES;
  if (meta_count / META_FIELDS < slots) slots = meta_count / META_FIELDS;
  if (address_bytes / ADDRESS_BYTES < slots) slots = address_bytes / ADDRESS_BYTES;
  if (slots > MAX_BATCH) slots = MAX_BATCH;
  const int32_t *fds = fds_data;
  double *meta = meta_data;

  struct pollfd polls[MAX_FDS];
  for (size_t i = 0; i < fd_count; i++) polls[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
  int ready = poll(polls, fd_count, timeout_ms);
  if (ready < 0) {
    if (errno == EINTR) ready = 0;
    else return throw_errno(env, "poll", errno);
  }
  static __thread struct mmsghdr messages[MAX_BATCH];
  static __thread struct iovec vectors[MAX_BATCH];
  static __thread struct sockaddr_storage sources[MAX_BATCH];
  static __thread char control[MAX_BATCH][CONTROL_BYTES];
  size_t taken = 0;
  for (size_t i = 0; i < fd_count && ready > 0 && taken < slots; i++) {
    // A closed descriptor would poll ready forever: an error, not a busy loop.
    if ((polls[i].revents & POLLNVAL) != 0) return throw_errno(env, "poll", EBADF);
    if ((polls[i].revents & (POLLIN | POLLERR)) == 0) continue;
    size_t room = slots - taken;
    for (size_t k = 0; k < room; k++) {
      size_t slot = taken + k;
      vectors[k] = (struct iovec){.iov_base = (uint8_t *)slab + slot * SLOT_BYTES, .iov_len = SLOT_BYTES};
      messages[k].msg_hdr = (struct msghdr){
          .msg_name = &sources[k],
          .msg_namelen = sizeof sources[k],
          .msg_iov = &vectors[k],
          .msg_iovlen = 1,
          .msg_control = control[k],
          .msg_controllen = CONTROL_BYTES,
      };
      messages[k].msg_len = 0;
    }
    int got = recvmmsg(fds[i], messages, (unsigned int)room, MSG_DONTWAIT, NULL);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return throw_errno(env, "recvmmsg", errno);
    }
    for (int k = 0; k < got; k++) {
      size_t slot = taken + (size_t)k;
      fill_meta(meta + slot * META_FIELDS, (char *)address_data + slot * ADDRESS_BYTES, &messages[k], &sources[k]);
    }
    taken += (size_t)got;
  }
  napi_value result;
  CHECK(napi_create_uint32(env, (uint32_t)taken, &result));
  return result;
}

/** The one argument of socketFill and close: a descriptor. False (an exception pending) when it is not one. */
static bool fd_argument(napi_env env, napi_callback_info info, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_int32(env, argv[0], fd) != napi_ok) {
    throw_message(env, "expected a file descriptor");
    return false;
  }
  return true;
}

static napi_value socket_fill(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_argument(env, info, &fd)) return NULL;
  uint32_t meminfo[SK_MEMINFO_VARS] = {0};
  socklen_t length = sizeof meminfo;
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, meminfo, &length) != 0) return throw_errno(env, "SO_MEMINFO", errno);
  double result[3] = {meminfo[SK_MEMINFO_RMEM_ALLOC], meminfo[SK_MEMINFO_RCVBUF], meminfo[SK_MEMINFO_DROPS]};
  return number_array(env, result, 3);
}

static napi_value close_socket(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_argument(env, info, &fd)) return NULL;
  if (close(fd) != 0) return throw_errno(env, "close", errno);
  return NULL;
}

static napi_value constants(napi_env env) {
  napi_value object, slot, fields, batch, address;
  if (napi_create_object(env, &object) != napi_ok) return NULL;
  napi_create_uint32(env, SLOT_BYTES, &slot);
  napi_create_uint32(env, META_FIELDS, &fields);
  napi_create_uint32(env, MAX_BATCH, &batch);
  napi_set_named_property(env, object, "slotBytes", slot);
  napi_set_named_property(env, object, "metaFields", fields);
  napi_set_named_property(env, object, "maxBatch", batch);
  napi_create_uint32(env, ADDRESS_BYTES, &address);
  napi_set_named_property(env, object, "addressBytes", address);
  return object;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor properties[] = {
      {"open", NULL, open_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"receive", NULL, receive, NULL, NULL, NULL, napi_enumerable, NULL},
      {"socketFill", NULL, socket_fill, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, close_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"constants", NULL, NULL, NULL, NULL, constants(env), napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}
