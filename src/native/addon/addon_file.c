/* TUN device and file exports (src/file-binding.ts is their TS interface).
 * Arguments are validated in TS; here every value is checked again only so
 * that a JS bug cannot touch memory it does not own. Results are 0 / a
 * value, or -errno for TS to turn into a Node-style error. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "addon/addon.h"
#include "file/file_internal.h"
#include "tun/tun.h"

static napi_value int_array(napi_env env, const int32_t *v, uint32_t n) {
  napi_value arr;
  napi_create_array_with_length(env, n, &arr);
  for (uint32_t i = 0; i < n; i++)
    napi_set_element(env, arr, i, ion_int(env, v[i]));
  return arr;
}

/* Reads n int32 arguments; false after throwing. */
static bool i32_args(napi_env env, napi_value *argv, int32_t *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!ion_arg_i32(env, argv[i], &v[i])) return false;
  return true;
}

/* Plain argument fetch for exports that need no reactor. */
/* An interface name argument ("" allowed); false after throwing. */
static bool name_arg(napi_env env, napi_value v, char out[ION_TUN_NAMELEN]) {
  size_t len = 0;
  char buf[ION_TUN_NAMELEN + 1];
  if (napi_get_value_string_utf8(env, v, buf, sizeof(buf), &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a string");
    return false;
  }
  if (len >= ION_TUN_NAMELEN) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "interface name too long");
    return false;
  }
  memset(out, 0, ION_TUN_NAMELEN);
  memcpy(out, buf, len);
  return true;
}

/* A Uint8Array of at least ION_TUN_NAMELEN bytes to write a name into. */
static bool name_out_arg(napi_env env, napi_value v, char **out) {
  void *data;
  size_t len;
  if (!ion_arg_bytes(env, v, &data, &len)) return false;
  if (len < ION_TUN_NAMELEN) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "name buffer too small");
    return false;
  }
  *out = data;
  return true;
}

/* The file object named by v, or NULL with *rc set. */
static ion_file *file_arg(napi_env env, addon *a, napi_value v, int *rc) {
  int32_t id;
  *rc = -EBADF;
  if (!ion_arg_i32(env, v, &id) || id <= 0) return NULL;
  ion_obj *o = ion_reactor_get(&a->rx, (uint32_t)id);
  if (!o || o->finalized) return NULL;
  ion_file *f = ion_file_of(o);
  if (f) *rc = 0;
  return f;
}

#define FILE_PROLOGUE(nargs)                         \
  napi_value argv[nargs];                            \
  addon *a = ion_addon_get(env, info, nargs, argv);  \
  if (!a) return NULL;                               \
  int rc;                                            \
  ion_file *f = file_arg(env, a, argv[0], &rc);      \
  if (!f) return ion_int(env, rc)

/* v = kind, rslots, rslot, qslots, qdataLen, vnet, gro, splitLen,
 * splitEntries[, multishot, packetInfo, maxPacket, backend] */
static void config_of(const int32_t *v, bool full, ion_file_config *c) {
  memset(c, 0, sizeof(*c));
  c->kind = v[0];
  c->rslots = (uint32_t)v[1];
  c->rslot = (uint32_t)v[2];
  c->qslots = (uint32_t)v[3];
  c->qdata_len = (uint32_t)v[4];
  c->vnet = v[5];
  c->gro = (unsigned)v[6];
  c->split_len = (uint32_t)v[7];
  c->split_entries = (uint32_t)v[8];
  if (!full) return;
  c->multishot = v[9];
  c->packet_info = v[10];
  c->max_packet = (uint32_t)v[11];
  c->backend = v[12];
}

/* fileLayout(kind, rslots, rslot, qslots, qdataLen, vnet, gro, splitLen,
 * splitEntries) -> [ctrl, stats, rmeta, qdesc, rpool, qdata, total, split,
 * rmetaEntries] or -errno */
static napi_value js_layout(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  int32_t v[9];
  if (!ion_args(env, info, 9, argv) || !i32_args(env, argv, v, 9))
    return NULL;
  ion_file_config cfg;
  config_of(v, false, &cfg);
  ion_file_layout l;
  int rc = ion_file_layout_of(&cfg, &l);
  if (rc < 0) return ion_int(env, rc);
  int32_t w[] = {(int32_t)l.ctrl,  (int32_t)l.stats, (int32_t)l.rmeta,
                 (int32_t)l.qdesc, (int32_t)l.rpool, (int32_t)l.qdata,
                 (int32_t)l.total, (int32_t)l.split, (int32_t)l.rmeta_n};
  return int_array(env, w, 9);
}

/* fileCreate(fd, kind, rslots, rslot, qslots, qdataLen, vnet, gro,
 * splitLen, splitEntries, multishot, packetInfo, maxPacket, backend) -> id
 * or -errno. Takes the fd: it is closed with the object, or at once if
 * creation fails. The object's shared memory is its own: JS asks for a
 * view with fileMem(id). */
static napi_value js_create(napi_env env, napi_callback_info info) {
  napi_value argv[14];
  addon *a = ion_addon_get(env, info, 14, argv);
  if (!a) return NULL;
  int32_t fd, v[13];
  if (!ion_arg_i32(env, argv[0], &fd) || !i32_args(env, argv + 1, v, 13))
    return NULL;
  ion_file_config cfg;
  config_of(v, true, &cfg);
  ion_file *f = NULL;
  int id = ion_file_create(&a->rx, &cfg, fd, &f);
  if (id < 0 && fd >= 0) close(fd);
  return ion_int(env, id);
}

/* fileInfo(id) -> [fd, multishot, vnet, gro (ION_GRO_* in use now)] */
static napi_value js_info(napi_env env, napi_callback_info info) {
  FILE_PROLOGUE(1);
  int32_t w[] = {ion_file_fd(f), ion_file_is_multishot(f),
                 (int32_t)ion_file_write_headroom(f) > 0,
                 (int32_t)ion_file_gro(f)};
  return int_array(env, w, 4);
}

/* tunTestRefuse(id, n): for tests of the offload fallback only. The next
 * n coalesced writes of a vnet device fail as a kernel refusal would
 * (EINVAL), without reaching the kernel: the device must turn coalescing
 * off and write their packets one by one. -> 0 or -errno */
static napi_value js_test_refuse(napi_env env, napi_callback_info info) {
  FILE_PROLOGUE(2);
  int32_t n;
  if (!ion_arg_i32(env, argv[1], &n)) return NULL;
  if (n < 0) return ion_int(env, -EINVAL);
  ion_tun_vnet_test_refuse(f, (uint32_t)n);
  return ion_int(env, 0);
}

/* tunTrustChecksums(id, on): the checksums of packets written to this
 * device are vouched for (WireGuard writes only packets that passed its
 * authenticated decryption): coalesced writes skip checking them, as the
 * kernel's wireguard marks such packets CHECKSUM_UNNECESSARY. -> 0/-errno */
static napi_value js_trust(napi_env env, napi_callback_info info) {
  FILE_PROLOGUE(2);
  bool on = false;
  napi_get_value_bool(env, argv[1], &on);
  ion_tun_vnet_trust(f, on);
  return ion_int(env, 0);
}

/* tunOpen(name, flags, mtu, nameOut: Uint8Array(16)) -> [fd or -errno,
 * stage] (tun.h ION_TUN_*) */
static napi_value js_tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char name[ION_TUN_NAMELEN], *out;
  int32_t v[2];
  if (!ion_args(env, info, 4, argv) || !name_arg(env, argv[0], name) ||
      !i32_args(env, argv + 1, v, 2) || !name_out_arg(env, argv[3], &out))
    return NULL;
  int stage = 0;
  int32_t w[2];
  w[0] = ion_tun_open(name, v[0], v[1], out, &stage);
  w[1] = stage;
  return int_array(env, w, 2);
}

/* tunInfo(fd, nameOut: Uint8Array(16)) -> IFF_* flags or -errno */
static napi_value js_tun_info(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  char *out;
  if (!ion_args(env, info, 2, argv) || !ion_arg_i32(env, argv[0], &fd) ||
      !name_out_arg(env, argv[1], &out))
    return NULL;
  return ion_int(env, ion_tun_info(fd, out));
}

/* tunSetPersist(fd, on) -> 0 or -errno */
static napi_value js_tun_persist(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t v[2];
  if (!ion_args(env, info, 2, argv) || !i32_args(env, argv, v, 2))
    return NULL;
  return ion_int(env, ion_tun_set_persist(v[0], v[1]));
}

/* tunMtu(name, mtu) -> the MTU (mtu <= 0: read only) or -errno */
static napi_value js_tun_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[ION_TUN_NAMELEN];
  int32_t mtu;
  if (!ion_args(env, info, 2, argv) || !name_arg(env, argv[0], name) ||
      !ion_arg_i32(env, argv[1], &mtu))
    return NULL;
  if (mtu > 0) {
    int rc = ion_tun_set_mtu(name, mtu);
    if (rc < 0) return ion_int(env, rc);
  }
  return ion_int(env, ion_tun_get_mtu(name));
}

/* fdSetNonblock(fd) -> 0 or -errno */
static napi_value js_nonblock(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!ion_args(env, info, 1, argv) || !ion_arg_i32(env, argv[0], &fd))
    return NULL;
  return ion_int(env, ion_fd_set_nonblock(fd));
}

void ion_file_exports(napi_env env, napi_value exports) {
  napi_property_descriptor p[] = {
      {"fileLayout", NULL, js_layout, NULL, NULL, NULL, napi_default, NULL},
      {"fileCreate", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"fileInfo", NULL, js_info, NULL, NULL, NULL, napi_default, NULL},
      {"tunTestRefuse", NULL, js_test_refuse, NULL, NULL, NULL, napi_default,
       NULL},
      {"tunTrustChecksums", NULL, js_trust, NULL, NULL, NULL, napi_default,
       NULL},
      {"tunOpen", NULL, js_tun_open, NULL, NULL, NULL, napi_default, NULL},
      {"tunInfo", NULL, js_tun_info, NULL, NULL, NULL, napi_default, NULL},
      {"tunSetPersist", NULL, js_tun_persist, NULL, NULL, NULL, napi_default,
       NULL},
      {"tunMtu", NULL, js_tun_mtu, NULL, NULL, NULL, napi_default, NULL},
      {"fdSetNonblock", NULL, js_nonblock, NULL, NULL, NULL, napi_default,
       NULL},
  };
  napi_define_properties(env, exports, sizeof(p) / sizeof(p[0]), p);
}
