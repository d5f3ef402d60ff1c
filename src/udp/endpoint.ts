/**
 * A destination parsed once: reuse it for every send to that peer so that
 * sending costs no string parsing and no allocation.
 */
import { parseAddress, toV4Mapped, type Family } from '../core/address.js';
import { badPort, invalidArgType, invalidArgValue } from '../core/errors.js';

export class Endpoint {
  readonly address: string;
  readonly port: number;
  /** 4 or 6: the family as sent on the wire by this socket type. */
  readonly family: Family;
  readonly scope: number;
  /** The 16 address bytes as 4 native-endian words, ready to copy. */
  readonly words: Int32Array;

  constructor(address: string, port: number, socketFamily: Family) {
    if (typeof address !== 'string') throw invalidArgType('address', 'of type string', address);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw badPort('Port', port, false);
    let parsed = parseAddress(address);
    if (!parsed) throw invalidArgValue('address', address, 'must be an IP address literal');
    if (parsed.family === 4 && socketFamily === 6) parsed = toV4Mapped(parsed);
    if (parsed.family === 6 && socketFamily === 4) {
      throw invalidArgValue('address', address, 'is IPv6 but the socket is udp4');
    }
    this.address = address;
    this.port = port;
    this.family = parsed.family;
    this.scope = parsed.scope;
    this.words = new Int32Array(parsed.bytes.buffer, parsed.bytes.byteOffset, 4);
  }
}
