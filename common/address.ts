// Addresses inside URLs and nginx directives.

/** An address as the host part of a URL or `host:port`: an IPv6 address goes in brackets. */
export function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
