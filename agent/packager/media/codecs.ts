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

/** hvc1 string from the profile_tier_level fields of an HEVC SPS/hvcC (general fields only). */
export function hevcCodec(profileSpace: number, tier: number, profileIdc: number, compatFlags: number,
  levelIdc: number): string {
  const space = ['', 'A', 'B', 'C'][profileSpace] ?? '';
  // The compatibility flags are written in reverse bit order, as hex without leading zeros.
  let rev = 0;
  for (let i = 0; i < 32; i++) rev = (rev << 1) | ((compatFlags >>> i) & 1);
  return `hvc1.${space}${profileIdc}.${(rev >>> 0).toString(16)}.${tier ? 'H' : 'L'}${levelIdc}.B0`;
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
