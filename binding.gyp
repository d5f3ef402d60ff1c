{
  "targets": [
    {
      "target_name": "iouring_net",
      "sources": [
        "src/native/addon/addon.c",
        "src/native/addon/addon_file.c",
        "src/native/addon/addon_obj.c",
        "src/native/addon/addon_poll.c",
        "src/native/addon/addon_udp.c",
        "src/native/core/reactor.c",
        "src/native/core/ring.c",
        "src/native/file/file.c",
        "src/native/file/file_poll.c",
        "src/native/tun/tun.c",
        "src/native/udp/mmsg.c",
        "src/native/udp/udp.c",
        "src/native/udp/udp_gso.c",
        "src/native/udp/udp_fd.c",
        "src/native/udp/udp_io.c"
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
