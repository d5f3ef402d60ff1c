{
  "targets": [
    {
      "target_name": "iouring_net",
      "sources": [
        "src/native/addon/addon.c",
        "src/native/addon/addon_crypto.c",
        "src/native/addon/addon_file.c",
        "src/native/addon/addon_obj.c",
        "src/native/addon/addon_offload.c",
        "src/native/addon/addon_poll.c",
        "src/native/addon/addon_tunnel.c",
        "src/native/addon/addon_udp.c",
        "src/native/addon/addon_wg.c",
        "src/native/addon/addon_wg_batch.c",
        "src/native/addon/addon_wg_link.c",
        "src/native/core/dring.c",
        "src/native/core/mem.c",
        "src/native/core/reactor.c",
        "src/native/core/ring.c",
        "src/native/core/rpool.c",
        "src/native/crypto/blake2s_mac.c",
        "src/native/crypto/xchacha.c",
        "src/native/file/file.c",
        "src/native/file/file_batch.c",
        "src/native/file/file_poll.c",
        "src/native/tun/gro.c",
        "src/native/tun/split.c",
        "src/native/tun/tun.c",
        "src/native/tun/tun_io.c",
        "src/native/tun/tun_vread.c",
        "src/native/tun/tun_vwrite.c",
        "src/native/tun/tunsetup.c",
        "src/native/tunnel/forward.c",
        "src/native/udp/mmsg.c",
        "src/native/udp/udp.c",
        "src/native/udp/udp_batch.c",
        "src/native/udp/udp_fd.c",
        "src/native/udp/udp_gso.c",
        "src/native/udp/udp_io.c",
        "src/native/wg/aead.c",
        "src/native/wg/aead_bench.c",
        "src/native/wg/aead_lowlevel.c",
        "src/native/wg/allowedips.c",
        "src/native/wg/device.c",
        "src/native/wg/keypair.c",
        "src/native/wg/peer.c",
        "src/native/wg/recv.c",
        "src/native/wg/replay.c",
        "src/native/wg/send.c",
        "src/native/wglink/wg_link.c"
      ],
      "cflags": [
        "-std=gnu11",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wno-unused-parameter"
      ],
      "cflags_c": [
        "-std=gnu11"
      ],
      "defines": [
        "NAPI_VERSION=8"
      ],
      "conditions": [
        [
          "OS!='linux'",
          {
            "type": "none"
          }
        ]
      ],
      "include_dirs": [
        "src/native"
      ]
    }
  ]
}
