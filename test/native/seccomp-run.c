/*
 * seccomp-run: run a command with io_uring refused by a seccomp filter.
 *
 *   seccomp-run --errno EPERM|ENOSYS [--also-enter-register] -- CMD [ARGS...]
 *
 * The tests use it to check what iouring-net does where io_uring is refused
 * for real (by the kernel, on the syscall itself), not where a flag pretends:
 *
 * - EPERM is what Docker's default seccomp profile returns for
 *   io_uring_setup, io_uring_enter and io_uring_register (they were removed
 *   from its allow list in 2023; containerd's default profile does the same),
 *   so it is what a program in a default container sees.
 * - ENOSYS is what a kernel without io_uring gives (older than 5.1, or built
 *   without CONFIG_IO_URING).
 *
 * By default only io_uring_setup is refused: no ring can be made, so the two
 * other calls are never reached. --also-enter-register refuses all three, as
 * Docker does.
 *
 * The filter is classic BPF installed with prctl(PR_SET_SECCOMP); no
 * libseccomp, so the tests need nothing but gcc. It is inherited by the
 * command and by everything it starts (fork, exec, threads created later).
 * PR_SET_NO_NEW_PRIVS is set first: the kernel requires it of a process
 * without CAP_SYS_ADMIN, and it also means setuid programs run by CMD do not
 * gain privileges.
 *
 * This is a test fixture, not a sandbox: every other syscall is allowed.
 *
 * Exit status: CMD's own status once it runs; otherwise
 *   2    usage error (message on stderr)
 *   3    the filter could not be installed here (no seccomp in the kernel,
 *        or prctl refused): callers should skip, not fail
 *   4    the filter was installed but a self-check call did not get the
 *        requested errno: this tool is broken, callers should fail
 *   126  CMD could not be executed; 127 CMD was not found (like a shell)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Syscall numbers. Every syscall added since 5.1 (pidfd_send_signal, 424,
 * onwards) has the same number on every architecture and ABI, so these hold
 * for the native ABI and the 32-bit compat ABI alike.
 */
#define NR_IO_URING_SETUP 425
#define NR_IO_URING_ENTER 426
#define NR_IO_URING_REGISTER 427

#ifdef __NR_io_uring_setup
_Static_assert(__NR_io_uring_setup == NR_IO_URING_SETUP, "io_uring_setup number");
_Static_assert(__NR_io_uring_enter == NR_IO_URING_ENTER, "io_uring_enter number");
_Static_assert(__NR_io_uring_register == NR_IO_URING_REGISTER, "io_uring_register number");
#endif

/*
 * Architecture check. A syscall number only means something together with
 * the ABI it was made through (seccomp_data.arch), so the filter first checks
 * the arch, chosen here at compile time.
 *
 * - The native ABI and its 32-bit compat ABI (int 0x80 on x86-64, AArch32 on
 *   arm64) get the same rule, since io_uring has the same numbers on both.
 * - Any other arch value (none that these kernels produce for such a process)
 *   is allowed untouched. Killing the process there would turn a test into an
 *   unexplained crash, and refusing everything would break the command in ways
 *   unrelated to io_uring; as a test fixture we prefer to let it through.
 *
 * x32 (x86-64 with 32-bit pointers) reports AUDIT_ARCH_X86_64 with bit 30 set
 * in the syscall number, and uses the same numbers from 424 on, so the bit is
 * masked off before comparing.
 */
#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define COMPAT_ARCH AUDIT_ARCH_I386
#define X32_SYSCALL_BIT 0x40000000u
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#define COMPAT_ARCH AUDIT_ARCH_ARM
#else
#error "seccomp-run supports x86-64 and aarch64 only"
#endif

enum {
  EXIT_USAGE = 2,
  EXIT_NO_SECCOMP = 3,
  EXIT_SELFCHECK = 4,
};

static void usage(FILE *to) {
  fputs("usage: seccomp-run --errno EPERM|ENOSYS [--also-enter-register] -- CMD [ARGS...]\n"
        "  Runs CMD with a seccomp filter that makes io_uring_setup fail with the\n"
        "  given errno (and io_uring_enter/io_uring_register too with\n"
        "  --also-enter-register). Exit: CMD's status; 2 usage; 3 cannot install\n"
        "  seccomp here; 4 filter self-check failed; 126/127 cannot run CMD.\n",
        to);
}

static void die_usage(const char *fmt, const char *arg) {
  fputs("seccomp-run: ", stderr);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  usage(stderr);
  exit(EXIT_USAGE);
}

/* Only the two errnos the tests need: each stands for a real environment. */
static int parse_errno(const char *name) {
  if (strcmp(name, "EPERM") == 0) return EPERM;
  if (strcmp(name, "ENOSYS") == 0) return ENOSYS;
  return -1;
}

static const char *errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    default: return "another errno";
  }
}

#define MAX_INSNS 16

struct program {
  struct sock_filter insns[MAX_INSNS];
  unsigned short len;
};

static void emit(struct program *p, struct sock_filter insn) {
  /* The program below has a fixed shape that fits; this only guards edits. */
  if (p->len >= MAX_INSNS) {
    fputs("seccomp-run: internal error: filter too long\n", stderr);
    exit(EXIT_SELFCHECK);
  }
  p->insns[p->len++] = insn;
}

static void build_filter(struct program *p, int err, int also_enter_register) {
  const unsigned int blocked[] = {NR_IO_URING_SETUP, NR_IO_URING_ENTER, NR_IO_URING_REGISTER};
  const unsigned int nblocked = also_enter_register ? 3 : 1;

  p->len = 0;
  emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
  /* native or compat: skip the "allow" below; anything else: allow. */
  emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 2, 0));
  emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, COMPAT_ARCH, 1, 0));
  emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));

  emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
#ifdef X32_SYSCALL_BIT
  emit(p, (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~X32_SYSCALL_BIT));
#endif
  /*
   * One comparison per refused syscall; a match jumps over the remaining
   * comparisons and the "allow" to the final "errno" return.
   */
  for (unsigned int i = 0; i < nblocked; i++) {
    const unsigned char to_deny = (unsigned char)(nblocked - i);
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, blocked[i], to_deny, 0));
  }
  emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned int)err & SECCOMP_RET_DATA)));
}

/*
 * Make each refused call once, with arguments that would fail harmlessly
 * without the filter (EINVAL/EFAULT/EBADF), and check it got our errno. This
 * proves the filter took effect before CMD runs, so a test that sees io_uring
 * working under this tool knows the library did not just get lucky.
 */
static void self_check(int err, int also_enter_register) {
  struct {
    const char *name;
    long nr;
    long a0;
  } calls[] = {
      {"io_uring_setup", NR_IO_URING_SETUP, 0},   /* 0 entries: EINVAL unfiltered */
      {"io_uring_enter", NR_IO_URING_ENTER, -1},  /* fd -1: EBADF unfiltered */
      {"io_uring_register", NR_IO_URING_REGISTER, -1},
  };
  const size_t n = also_enter_register ? 3 : 1;
  for (size_t i = 0; i < n; i++) {
    errno = 0;
    long rc = syscall(calls[i].nr, calls[i].a0, 0L, 0L, 0L, 0L, 0L);
    int got = errno;
    if (rc != -1 || got != err) {
      fprintf(stderr, "seccomp-run: filter installed but %s returned %ld (%s), expected -1 (%s)\n",
              calls[i].name, rc, rc == -1 ? errno_name(got) : "no error", errno_name(err));
      exit(EXIT_SELFCHECK);
    }
  }
}

int main(int argc, char **argv) {
  int err = -1;
  int also_enter_register = 0;
  int i = 1;

  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(a, "--errno") == 0) {
      if (i + 1 >= argc) die_usage("%s needs a value: EPERM or ENOSYS", a);
      if (err != -1) die_usage("%s given twice", a);
      err = parse_errno(argv[++i]);
      if (err < 0) die_usage("unsupported errno '%s' (use EPERM or ENOSYS)", argv[i]);
    } else if (strcmp(a, "--also-enter-register") == 0) {
      also_enter_register = 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      die_usage("unknown argument '%s' (the command goes after '--')", a);
    }
  }
  if (err == -1) die_usage("%s is required", "--errno");
  if (i > argc || strcmp(argv[i - 1], "--") != 0) die_usage("missing '%s' before the command", "--");
  if (i >= argc) die_usage("no command given after '%s'", "--");

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    fprintf(stderr, "seccomp-run: cannot install seccomp here: prctl(PR_SET_NO_NEW_PRIVS): %s\n", strerror(errno));
    return EXIT_NO_SECCOMP;
  }
  struct program p;
  build_filter(&p, err, also_enter_register);
  struct sock_fprog prog = {.len = p.len, .filter = p.insns};
  /*
   * prctl rather than seccomp(2): both install the same filter, and this
   * process has a single thread, so seccomp(2)'s TSYNC flag is not needed.
   */
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
    fprintf(stderr, "seccomp-run: cannot install seccomp here: prctl(PR_SET_SECCOMP): %s%s\n", strerror(errno),
            errno == EINVAL ? " (kernel built without CONFIG_SECCOMP_FILTER?)" : "");
    return EXIT_NO_SECCOMP;
  }
  self_check(err, also_enter_register);

  execvp(argv[i], &argv[i]);
  int e = errno;
  fprintf(stderr, "seccomp-run: cannot run %s: %s\n", argv[i], strerror(e));
  return e == ENOENT ? 127 : 126;
}
