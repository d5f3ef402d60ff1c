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
        "src/native/tun/split.c",
        "src/native/tun/gro.c",
        "src/native/tun/tunsetup.c",
        "src/native/tun/addon_offload.c"
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
