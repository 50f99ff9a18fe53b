// RFC 6381 codec strings from the bitstream's own parameter sets.

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** avc1.PPCCLL from the first three bytes after an H.264 SPS NAL header. */
export function avcCodec(profile: number, compat: number, level: number): string {
  return `avc1.${hex2(profile)}${hex2(compat)}${hex2(level)}`;
}

/** mp4a.40.N from an AAC audio object type. */
export function aacCodec(objectType: number): string {
  return `mp4a.40.${objectType}`;
}

/**
 * hvc1 string (ISO/IEC 14496-15 E.3) from the general fields of an HEVC profile_tier_level:
 * hvc1.<space><profile_idc>.<compatibility flags reversed>.<L|H><level_idc>[.<constraint byte>]...,
 * the six constraint indicator bytes as hex, trailing zero ones left out. A caller that does not
 * read them gets B0 (progressive, non-packed, frame-only), the value this wrote for every stream before.
 */
export function hevcCodec(profileSpace: number, tier: number, profileIdc: number, compatFlags: number,
  levelIdc: number, constraints: ArrayLike<number> = [0xb0]): string {
  const space = ['', 'A', 'B', 'C'][profileSpace] ?? '';
  // The compatibility flags are written in reverse bit order, as hex without leading zeros.
  let rev = 0;
  for (let i = 0; i < 32; i++) rev = (rev << 1) | ((compatFlags >>> i) & 1);
  const bytes = Array.from(constraints).slice(0, 6);
  while (bytes.length > 0 && bytes[bytes.length - 1] === 0) bytes.pop();
  const flags = bytes.map((b) => `.${hex2(b).toUpperCase()}`).join('');
  return `hvc1.${space}${profileIdc}.${(rev >>> 0).toString(16)}.${tier ? 'H' : 'L'}${levelIdc}${flags}`;
}

/**
 * hvc1 string from the 12 bytes of a general profile_tier_level, laid out alike in an SPS's RBSP
 * and in an hvcC: profile byte, compatibility flags (4), constraint indicator flags (6), level_idc.
 */
export function hevcCodecFromPtl(ptl: Uint8Array): string {
  const b = ptl[0] ?? 0;
  const compat = (((ptl[1] ?? 0) << 24) | ((ptl[2] ?? 0) << 16) | ((ptl[3] ?? 0) << 8) | (ptl[4] ?? 0)) >>> 0;
  return hevcCodec(b >> 6, (b >> 5) & 1, b & 0x1f, compat, ptl[11] ?? 0, ptl.subarray(5, 11));
}

/**
 * Up to `max` bytes of a NAL unit's payload from `from`, with its emulation prevention bytes (the 03
 * of 00 00 03) removed: the RBSP the syntax is defined on. Stops at the next start code.
 */
export function rbspOf(buf: Uint8Array, from: number, max: number): Uint8Array {
  const out = new Uint8Array(max);
  let n = 0;
  let zeros = 0;
  for (let i = from; i < buf.length && n < max; i++) {
    const b = buf[i] ?? 0;
    if (zeros >= 2 && b < 3) break;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

/** Finds Annex B NAL units (00 00 01 start codes) and calls back with type and offset of the payload. */
export function forEachNal(buf: Uint8Array, hevc: boolean, fn: (type: number, at: number) => boolean | void): void {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      const header = buf[i + 3] ?? 0;
      const type = hevc ? (header >> 1) & 0x3f : header & 0x1f;
      if (fn(type, i + 3) === true) return;
      i += 3;
    }
  }
}
