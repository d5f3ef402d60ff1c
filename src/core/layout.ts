/**
 * What every native object (UDP socket, TUN device, file) shares with JS,
 * mirrored from src/native/core/reactor.h and dring.h: the control words
 * JS writes, the ready entries native hands over per drain, event bits and
 * the 12-word descriptor.
 */

/** Control words JS writes (reactor.h ION_C_*); native checks them. */
export const C_STAIL = 3;
export const C_SWANT = 6;
export const C_WORDS = 16;

/**
 * Words of one ready entry (reactor.h ION_E_*), written by native into
 * memory of its own: native's values, never read back from shared memory.
 */
export const E_ID = 0;
export const E_EVENTS = 1;
export const E_RCOUNT = 2;
export const E_SDONE = 3;
export const E_RERR = 4;
export const E_WORDS = 5;

/** Event bits (reactor.h ION_EV_*). */
export const EV_RECV = 1;
export const EV_SENT = 2;
export const EV_ERROR = 4;
export const EV_CLOSED = 8;
/** JS driver only: an asynchronous bind finished (udp/dgram-driver.ts). */
export const EV_LISTENING = 16;

/**
 * Words of one descriptor (dring.h ION_D_*; UDP receive and send entries,
 * udp.h ION_M_*, use the same stride and first words).
 */
export const M_OFF = 0;
export const M_LEN = 1;
export const M_FLAGS = 2;
export const M_PORT = 3;
export const M_FAMILY = 4;
export const M_SCOPE = 5;
export const M_ADDR = 6;
export const M_WORDS = 12;
export const MF_TRUNC = 1;

/** Native's answer to a send tail it cannot believe (dring.h): -EPROTO. */
export const EPROTO = -71;
