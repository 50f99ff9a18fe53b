// The full playlist for players that accept gzip, compressed once instead of on every request.
// Each immutable chunk is also stored as a raw DEFLATE piece, compressed on its own and ended by a
// sync flush, so that pieces concatenate into one valid DEFLATE stream. The compressed playlist is
// one gzip member: the gzip header and the head's piece, SSI includes of the chunks' pieces, then
// the tail's final piece and the trailer (the CRC-32 combined from the pieces' CRCs, the length).
// nginx stitches it as it stitches the plain form. Pure: no I/O.
import { constants, crc32, deflateRawSync } from 'node:zlib';
import { includeDirective, type PlaylistParts } from './hls.js';

export interface DeflatePiece {
  data: Buffer;
  /** CRC-32 and byte length of the text the piece inflates to. */
  crc: number;
  length: number;
}

/** A chunk's piece as the compressed playlist includes it. */
export interface ChunkPiece {
  file: string;
  crc: number;
  length: number;
}

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
/** What nginx's SSI filter would take for a directive; a piece holding it cannot be stitched. */
const SSI_OPENER = '<!--#';

/** `last`: the final piece of the stream (BFINAL); otherwise byte-aligned by a sync flush. */
export function deflatePiece(text: string, last = false): DeflatePiece {
  const buf = Buffer.from(text);
  return {
    data: deflateRawSync(buf, last ? {} : { finishFlush: constants.Z_SYNC_FLUSH }),
    crc: crc32(buf),
    length: buf.length,
  };
}

/** x * y modulo the CRC-32 polynomial (bit-reflected). */
function multModP(x: number, y: number): number {
  let m = 0x80000000;
  let p = 0;
  let b = y >>> 0;
  for (;;) {
    if (x & m) {
      p = (p ^ b) >>> 0;
      if ((x & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? ((b >>> 1) ^ 0xedb88320) >>> 0 : b >>> 1;
  }
  return p;
}

/** x^(2^k) modulo the polynomial, for k = 0..31. */
const X2N: number[] = (() => {
  const t = [0x40000000];
  for (let k = 1; k < 32; k++) t.push(multModP(t[k - 1] ?? 0, t[k - 1] ?? 0));
  return t;
})();

/** x^(8 * bytes) modulo the polynomial: the shift that appending `bytes` bytes applies to a CRC. */
function shiftFor(bytes: number): number {
  let p = 0x80000000;
  let k = 3;
  // Arithmetic, not bit operators: exact for lengths beyond 2^31 too.
  for (let n = bytes; n > 0; n = Math.floor(n / 2), k++) {
    if (n % 2 === 1) p = multModP(X2N[k & 31] ?? 0, p);
  }
  return p;
}

/** CRC-32 of A followed by B, from CRC(A), CRC(B) and B's length (as zlib's crc32_combine). */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multModP(shiftFor(lengthB), crcA) ^ crcB) >>> 0;
}

/**
 * The compressed template nginx stitches, or undefined when it cannot be made (a chunk without its
 * piece, or compressed bytes that would read as an SSI directive): the plain form is served then.
 */
export function renderGzipPlaylist(parts: PlaylistParts, piece: (seq: number) => ChunkPiece | undefined): Buffer | undefined {
  const head = deflatePiece(parts.head);
  const tail = deflatePiece(parts.tail, true);
  let crc = head.crc;
  let length = head.length;
  const includes: string[] = [];
  for (const seq of parts.chunks) {
    const p = piece(seq);
    if (!p) return undefined;
    crc = crc32Combine(crc, p.crc, p.length);
    length += p.length;
    includes.push(includeDirective(p.file));
  }
  crc = crc32Combine(crc, tail.crc, tail.length);
  length += tail.length;
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  const before = Buffer.concat([GZIP_HEADER, head.data]);
  const after = Buffer.concat([tail.data, trailer]);
  if (before.includes(SSI_OPENER) || after.includes(SSI_OPENER)) return undefined;
  return Buffer.concat([before, Buffer.from(includes.join('')), after]);
}
