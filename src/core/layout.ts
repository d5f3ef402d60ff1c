/**
 * The shared-memory words every native object (UDP socket, TUN device,
 * file) has in common, mirrored from src/native/reactor.h and udp.h:
 * control words, event bits and the 12-word descriptor entry.
 */

/** Control words (reactor.h ION_C_*). */
export const C_EVENTS = 0;
export const C_RCOUNT = 1;
export const C_RERR = 2;
export const C_STAIL = 3;
export const C_SDONE = 4;
export const C_SSUB = 5;
export const C_SWANT = 6;

/** Event bits (reactor.h ION_EV_*). */
export const EV_RECV = 1;
export const EV_SENT = 2;
export const EV_ERROR = 4;
export const EV_CLOSED = 8;
/** JS driver only: an asynchronous bind finished (udp/dgram-driver.ts). */
export const EV_LISTENING = 16;

/** Words of one receive/send entry (udp.h ION_M_*). */
export const M_OFF = 0;
export const M_LEN = 1;
export const M_FLAGS = 2;
export const M_PORT = 3;
export const M_FAMILY = 4;
export const M_SCOPE = 5;
export const M_ADDR = 6;
export const M_WORDS = 12;
export const MF_TRUNC = 1;

