{
  "targets": [
    {
      "target_name": "iouring_net",
      "sources": [
        "src/native/addon.c",
        "src/native/addon_udp.c",
        "src/native/addon_file.c",
        "src/native/addon_poll.c",
        "src/native/addon_obj.c",
        "src/native/file.c",
        "src/native/file_poll.c",
        "src/native/tun.c",
        "src/native/reactor.c",
        "src/native/mmsg.c",
        "src/native/ring.c",
        "src/native/udp.c",
        "src/native/udp_io.c",
        "src/native/udp_gso.c",
        "src/native/crypto/addon_crypto.c",
        "src/native/crypto/blake2s_mac.c",
        "src/native/crypto/xchacha.c"
      ],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
